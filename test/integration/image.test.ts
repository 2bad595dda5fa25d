import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// The container image without a container runtime: scripts/image-check.mjs replays the Dockerfile's runtime
// stage in a temporary directory (npm ci --omit=dev from the registry, as the image build does).
const SCRIPT = new URL("../../scripts/image-check.mjs", import.meta.url).pathname;
const DOCKERFILE = new URL("../../Dockerfile", import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), "fairgate-dockerfile-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const imageCheck = (dockerfile?: string) =>
  spawnSync(process.execPath, [SCRIPT], {
    encoding: "utf8",
    timeout: 240_000,
    env: { ...process.env, DOCKERFILE: dockerfile ?? "" },
  });

describe("Dockerfile", { timeout: 300_000 }, () => {
  it("builds a tree that starts, passes its HEALTHCHECK on /ready and stops on SIGTERM", () => {
    const r = imageCheck();
    expect(r.stderr).not.toContain("FAILED");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("every source exists and is in the build context");
    expect(r.stdout).toContain("RUN npm ci --omit=dev");
    expect(r.stdout).toContain("HEALTHCHECK: /ready answered 200");
    expect(r.stdout).toContain("SIGTERM: exit 0");
  });

  it.each([
    [
      "a COPY of a path that does not exist",
      (d: string) => d.replace("COPY bin/ bin/", "COPY bni/ bin/"),
      /COPY bni\/: no such file/,
    ],
    [
      "a COPY of a path .dockerignore excludes",
      (d: string) => d.replace("COPY bin/ bin/", "COPY test/ test/"),
      /excluded from the build context by \.dockerignore \(test\)/,
    ],
    [
      "a root runtime stage",
      (d: string) => d.replace("USER 10001:10001", "USER root"),
      /runs as root: use a non-root USER/,
    ],
    [
      "an install with dev dependencies",
      (d: string) => d.replace("npm ci --omit=dev", "npm ci"),
      /must install with npm ci --omit=dev/,
    ],
  ])("refuses %s", (_what, edit, message) => {
    const file = join(scratch, "Dockerfile");
    writeFileSync(file, edit(readFileSync(DOCKERFILE, "utf8")));
    const r = imageCheck(file);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
  });
});
