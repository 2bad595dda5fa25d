import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { devNull, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { startSupervised } from "./supervised.js";

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
  /**
   * Entry module, relative to the repository root or absolute
   * (default: the config's main, src/edge/cloudflare-worker.ts).
   */
  script?: string;
  /** Wrangler config, relative to the repository root or absolute (default: wrangler.toml). */
  config?: string;
  /** How long to wait for "Ready on" (default 60 s). */
  timeoutMs?: number;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
// wrangler's package main is its CLI; bin/wrangler.js only re-runs it with these two node flags.
// Running it directly makes it the watchdog's child, so SIGTERM reaches wrangler itself, which then
// stops workerd and removes its .wrangler/tmp bundle directories before it exits; when wrangler exits,
// the watchdog kills what is left of the group (workerd, esbuild).
const WRANGLER_CLI = createRequire(import.meta.url).resolve("wrangler");
const WRANGLER_NODE_FLAGS = ["--no-warnings", "--experimental-vm-modules"];

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

  let onOutput = () => {};
  const proc = startSupervised({
    command: process.execPath,
    args: [...WRANGLER_NODE_FLAGS, ...args],
    cwd: ROOT,
    scratch, // the watchdog removes it if the test process died
    onOutput: () => onOutput(),
    env: {
      CI: "true",
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_HIDE_BANNER: "true", // the banner does an npm update check
      CLOUDFLARE_CF_FETCH_ENABLED: "false", // else miniflare downloads Request.cf from workers.cloudflare.com
      CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false",
      CLOUDFLARE_INCLUDE_PROCESS_ENV: "false",
      WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true",
      WRANGLER_REGISTRY_PATH: join(scratch, "registry"), // no shared dev registry between runs
      WRANGLER_LOG_PATH: join(scratch, "logs"),
      NO_COLOR: "1",
      FORCE_COLOR: "0",
    },
  });
  const logs = () => stripVTControlCharacters(proc.output());
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= proc.close().then(() => rmSync(scratch, { recursive: true, force: true })));

  const timeoutMs = opts.timeoutMs ?? 60_000;
  try {
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`wrangler dev not ready after ${timeoutMs} ms`)), timeoutMs);
      onOutput = () => {
        const m = /Ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(logs());
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]!);
        }
      };
      void proc.exited.then(({ code, signal, error }) => {
        clearTimeout(timer);
        reject(error ?? new Error(`wrangler dev exited (${signal ?? code}) before it was ready`));
      });
    });
    return { url, pid: proc.pid, close, logs };
  } catch (e) {
    await close();
    throw new Error(`${(e as Error).message}\n--- wrangler output ---\n${proc.output()}`);
  }
}
