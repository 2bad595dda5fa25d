import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { devNull, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";

/**
 * Runs a Worker in the real Workers runtime (workerd), locally, for integration tests.
 *
 * It spawns `wrangler dev --local` (the project's devDependency: wrangler bundles the entry exactly
 * as it does for `wrangler dev`, nodejs_compat included, and miniflare runs the bundle in workerd) on
 * a free loopback port, in its own process group. Nothing reaches Cloudflare: local mode, no metrics,
 * no update check, no `Request.cf` download. The Worker's own fetches go out from workerd to the
 * real network, so it reaches loopback servers the test started (an OIDC provider, an upstream).
 *
 * Vars are passed with `--var NAME:VALUE` (exact, newlines and colons included) and override the
 * config's [vars]; .dev.vars, .env and the test process's environment are NOT loaded, so a run
 * only sees the config's [vars] and `opts.vars`.
 */
export interface WorkerdHandle {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Id of the process group (wrangler, esbuild, workerd) that close() ends. */
  pid: number;
  /** Stops wrangler, workerd and esbuild (the whole process group); safe to call twice. */
  close(): Promise<void>;
  /** Everything wrangler and the Worker printed so far (stdout and stderr, interleaved, colours removed). */
  logs(): string;
}

export interface StartWorkerOptions {
  /** Vars for the Worker; they override the config's [vars]. */
  vars: Record<string, string>;
  /** Entry module, relative to the repository root or absolute (default: the config's main, src/edge/worker.ts). */
  script?: string;
  /** Wrangler config, relative to the repository root or absolute (default: wrangler.toml). */
  config?: string;
  /** How long to wait for "Ready on" (default 60 s). */
  timeoutMs?: number;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
// wrangler's package main is its CLI; bin/wrangler.js only re-runs it with these two node flags.
// Running it directly makes it the watchdog's child, so SIGTERM reaches wrangler itself, which then
// stops workerd and removes its .wrangler/tmp bundle directories before it exits.
const WRANGLER_CLI = createRequire(import.meta.url).resolve("wrangler");

/**
 * Group leader between the test process and wrangler. On SIGTERM, or when its stdin closes (close(),
 * or the test process died without calling it), it sends wrangler SIGTERM; when wrangler exits it
 * removes the scratch directory and SIGKILLs what is left of its process group (workerd, esbuild);
 * after 3 s it does that anyway.
 */
const WATCHDOG = `
const { spawn } = require("node:child_process");
const { rmSync } = require("node:fs");
// wrangler writes to the watchdog's pipes, never to the test's, so it cannot die of EPIPE mid-cleanup.
const child = spawn(process.execPath, ["--no-warnings", "--experimental-vm-modules", ...process.argv.slice(1)], { stdio: ["ignore", "pipe", "pipe"] });
for (const out of [process.stdout, process.stderr]) out.on("error", () => {});
child.stdout.on("data", (d) => process.stdout.write(d));
child.stderr.on("data", (d) => process.stderr.write(d));
const killAll = () => {
  try { rmSync(process.env.FAIRGATE_WORKERD_SCRATCH, { recursive: true, force: true }); } catch {}
  try { process.kill(0, "SIGKILL"); } catch {}
  process.exit(1);
};
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  child.kill("SIGTERM");
  setTimeout(killAll, 3000).unref();
};
for (const s of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(s, stop);
process.stdin.on("end", stop).on("error", stop).resume();
child.on("exit", killAll).on("error", killAll);
`;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Whether any process of the group still runs. Zombies do not count: on a machine whose init reaps
 * orphans lazily, killed grandchildren (workerd, esbuild) linger as zombies for a second or more.
 */
function groupAlive(pgid: number): boolean {
  if (process.platform === "linux") {
    try {
      for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        let stat: string;
        try {
          stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        } catch {
          continue; // gone meanwhile
        }
        const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (pgrp === String(pgid) && state !== "Z" && state !== "X") return true;
      }
      return false;
    } catch {
      // no /proc: fall through
    }
  }
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startWorker(opts: StartWorkerOptions): Promise<WorkerdHandle> {
  const config = resolve(ROOT, opts.config ?? "wrangler.toml");
  const scratch = mkdtempSync(join(tmpdir(), "fairgate-workerd-"));
  const args = [
    WRANGLER_CLI,
    "dev",
    ...(opts.script ? [resolve(ROOT, opts.script)] : []),
    "--config",
    config,
    "--local",
    "--ip",
    "127.0.0.1",
    "--port",
    "0",
    "--inspector-ip",
    "127.0.0.1",
    "--inspector-port",
    "0",
    "--show-interactive-dev-session=false",
    "--persist-to",
    join(scratch, "state"),
    // Replaces the default .env/.dev.vars lookup (which would leak a developer's files into the run).
    "--env-file",
    devNull,
  ];
  for (const [name, value] of Object.entries(opts.vars)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`startWorker: bad var name ${JSON.stringify(name)}`);
    args.push("--var", `${name}:${value}`);
  }

  const child = spawn(process.execPath, ["-e", WATCHDOG, ...args], {
    cwd: ROOT,
    detached: true, // own process group, killed as one
    stdio: ["pipe", "pipe", "pipe"],
    env: {
      ...process.env,
      CI: "true",
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_HIDE_BANNER: "true", // the banner does an npm update check
      CLOUDFLARE_CF_FETCH_ENABLED: "false", // else miniflare downloads Request.cf from workers.cloudflare.com
      CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false",
      CLOUDFLARE_INCLUDE_PROCESS_ENV: "false",
      WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true",
      WRANGLER_REGISTRY_PATH: join(scratch, "registry"), // no shared dev registry between runs
      WRANGLER_LOG_PATH: join(scratch, "logs"),
      FAIRGATE_WORKERD_SCRATCH: scratch, // the watchdog removes it if the test process died
      NO_COLOR: "1",
      FORCE_COLOR: "0",
    },
  });
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A test that forgot close(): the watchdogs stop their groups (their stdin closes too).
    process.once("exit", () => {
      for (const c of live) c.kill("SIGTERM");
    });
  }

  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (output += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (output += d));
  child.stdin!.on("error", () => {});
  const exited = new Promise<void>((r) => child.once("exit", () => r()));

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      const pid = child.pid;
      child.kill("SIGTERM"); // the watchdog: wrangler cleans up, then the rest of the group is killed
      child.stdin!.end();
      const deadline = Date.now() + 5000;
      while (pid && groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if (pid && groupAlive(pid)) killGroup(child, "SIGKILL");
      while (pid && groupAlive(pid)) await new Promise((r) => setTimeout(r, 20));
      await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
      live.delete(child);
      rmSync(scratch, { recursive: true, force: true });
    })());

  const timeoutMs = opts.timeoutMs ?? 60_000;
  try {
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`wrangler dev not ready after ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        const m = /Ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(stripVTControlCharacters(output));
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]!);
        }
      };
      child.stdout!.on("data", check);
      child.stderr!.on("data", check);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`wrangler dev exited (${signal ?? code}) before it was ready`));
      });
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    return { url, pid: child.pid!, close, logs: () => stripVTControlCharacters(output) };
  } catch (e) {
    await close();
    throw new Error(`${(e as Error).message}\n--- wrangler output ---\n${output}`);
  }
}
