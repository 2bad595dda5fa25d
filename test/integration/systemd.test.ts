import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// config/examples/fairgate.service as systemd itself reads it. systemd-analyze is part of the systemd package;
// without it (containers, macOS) this suite is skipped and says so.
const UNIT = new URL("../../config/examples/fairgate.service", import.meta.url).pathname;
const ANALYZE = process.env.SYSTEMD_ANALYZE_BIN || "systemd-analyze";
const present = spawnSync(ANALYZE, ["--version"], { encoding: "utf8" }).status === 0;
if (!present)
  console.warn(
    "SKIPPED systemd unit (test/integration/systemd.test.ts): no systemd-analyze on PATH " +
      "(apt-get install systemd, or SYSTEMD_ANALYZE_BIN=/path/to/systemd-analyze)",
  );

const scratch = mkdtempSync(join(tmpdir(), "fairgate-unit-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** systemd-analyze verify on a copy named fairgate.service (the name systemd would load it under). */
function verify(text: string) {
  const file = join(scratch, "fairgate.service");
  writeFileSync(file, text);
  const r = spawnSync(ANALYZE, ["verify", file], { encoding: "utf8", timeout: 30_000 });
  // verify also reports on unrelated units of the machine it runs on; keep what concerns ours.
  const ours = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.startsWith("fairgate.service"));
  return { status: r.status, ours };
}

describe.skipIf(!present)("systemd unit (config/examples/fairgate.service)", { timeout: 60_000 }, () => {
  const unit = readFileSync(UNIT, "utf8");

  it("passes systemd-analyze verify", () => {
    expect(verify(unit)).toEqual({ status: 0, ours: [] });
  });

  it("would be refused with a command that is not there (the check can fail)", () => {
    const r = verify(unit.replace(/^ExecStart=\S+/m, "ExecStart=/nonexistent/bin/fairgate"));
    expect(r.status).not.toBe(0);
    expect(r.ours.join("\n")).toContain("Command /nonexistent/bin/fairgate is not executable");
  });
});
