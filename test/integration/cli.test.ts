import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../support/supervised.js";

// The sources, run as bin/fairgate.js runs the build: in this very node process (tsx's loader), so signals reach it.
const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const BIN = ["--import", "tsx", MAIN];
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [...BIN, ...args], { encoding: "utf8", timeout: 30_000 });
const scratch = mkdtempSync(join(tmpdir(), "fairgate-cli-"));

function configOn(port: number): string {
  const file = join(scratch, `c${port}.yaml`);
  writeFileSync(
    file,
    `server: { listen: "127.0.0.1:${port}" }\nidentity: { secret: "${"s".repeat(32)}" }\nfrontend:\n  queriers: [{ url: "http://127.0.0.1:9" }]\n`,
  );
  return file;
}

describe("fairgate CLI", () => {
  it("prints its version and help", () => {
    expect(cli("--version").stdout).toMatch(/^fairgate \d+\.\d+\.\d+\n$/);
    const help = cli("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("fairgate [all|edge|frontend] --config FILE");
  });

  it("checks a config and lists every problem by its path", () => {
    expect(cli("check-config", "config/fairgate.yaml").stdout).toBe("config/fairgate.yaml: ok\n");
    const bad = join(scratch, "bad.yaml");
    writeFileSync(bad, "edge:\n  issuers: [{ issuer: nope }]\n  actor: { secret: x }\n");
    const r = cli("check-config", bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("edge.issuers[0].issuer: must be an http(s) URL");
    expect(r.stderr).toContain("edge.issuers[0].audiences: required");
    expect(r.stderr).toContain("edge.tenants: required");
  });

  it("says in one line that a config file is missing", () => {
    const r = cli("all", "--config", "/nonexistent/fairgate.yaml");
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(2);
    expect(r.stderr).toContain("cannot read config file /nonexistent/fairgate.yaml: no such file");
  });

  it("says in one line that the port is in use", async () => {
    const port = await freePort();
    const blocker = createServer().listen(port, "127.0.0.1");
    await new Promise((r) => blocker.once("listening", r));
    try {
      const r = cli("frontend", "--config", configOn(port));
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`fairgate: cannot listen on 127.0.0.1:${port}: the port is already in use\n`);
    } finally {
      blocker.close();
    }
  });

  it("drains and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [...BIN, "frontend", "--config", configOn(port)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await expect.poll(() => out, { timeout: 20_000 }).toContain(`listening on http://127.0.0.1:${port}`);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out).toContain("SIGTERM: draining");
  });
});
