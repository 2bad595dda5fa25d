#!/usr/bin/env node
// The package as users get it: packs this checkout, installs the tarball with --omit=dev in a temp
// directory, and runs it there: --version, check-config, then `all` on the packaged default config
// (demo mode), one query through it, SIGTERM, exit 0. Run by .ci/run after the build.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.mjs";

const root = new URL("..", import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const dir = mkdtempSync(join(tmpdir(), "fairgate-pack-"));
const step = (what) => console.log(`smoke-pack: ${what}`);
const sh = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });

function check(ok, message) {
  if (!ok) throw new Error(message);
}

async function startAll(bin, config, cwd) {
  const [port, adminPort] = [await freePort(), await freePort()];
  const env = { ...process.env, FAIRGATE_PORT: String(port), FAIRGATE_ADMIN_PORT: String(adminPort) };
  const child = spawn(bin, ["all", "--config", config], { cwd, env, stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const deadline = Date.now() + 30_000;
  while (!out.includes("listening on")) {
    check(child.exitCode === null, `fairgate exited early: ${out}`);
    check(Date.now() < deadline, `fairgate did not start within 30 s: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, exited, url: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}` };
}

async function main() {
  step(`packing into ${dir}`);
  const [{ filename }] = JSON.parse(sh("npm", ["pack", "--json", "--pack-destination", dir], root));
  const app = join(dir, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), '{ "private": true }\n');
  step(`npm install --omit=dev ${filename}`);
  sh("npm", ["install", "--omit=dev", "--no-audit", "--no-fund", join(dir, filename)], app);

  const bin = join(app, "node_modules/.bin/fairgate");
  const config = "node_modules/fairgate/config/fairgate.yaml";
  check(sh(bin, ["--version"], app) === `fairgate ${version}\n`, "fairgate --version");
  check(sh(bin, ["check-config", config], app) === `${config}: ok\n`, "fairgate check-config");
  step("--version and check-config: ok");

  const running = await startAll(bin, config, app);
  try {
    const health = await fetch(`${running.url}/healthz`);
    check(health.status === 200, `/healthz answered ${health.status}`);
    const token = await (await fetch(`${running.url}/demo/oidc/token?user=alice`)).text();
    const query = await fetch(`${running.url}/api/v1/query?query=up`, {
      headers: { authorization: `Bearer ${token}` },
    });
    check(query.status === 200, `a demo query answered ${query.status}: ${await query.text()}`);
    step("all: /healthz 200, a demo query 200");
    // The status page's chart library comes from the installed uplot package, offline.
    const page = await fetch(`${running.admin}/status`);
    check(page.status === 200, `/status answered ${page.status}`);
    // Its client was bundled by the build (dist/observability/status-client.js): no bundler in the package.
    check((await page.text()).includes("debug/history?after="), "/status carries its client script");
    const chartLib = await fetch(`${running.admin}/status/assets/uplot.js`);
    check(chartLib.status === 200 && (await chartLib.text()).includes("uPlot"), "/status/assets/uplot.js");
    step("admin: /status and its chart library 200");
  } finally {
    running.child.kill("SIGTERM");
  }
  const code = await running.exited;
  check(code === 0, `fairgate exited with ${code} after SIGTERM`);
  step("SIGTERM: exit 0");
}

try {
  await main();
  rmSync(dir, { recursive: true, force: true });
} catch (e) {
  console.error(`smoke-pack: FAILED: ${e instanceof Error ? e.message : e} (files kept in ${dir})`);
  process.exit(1);
}
