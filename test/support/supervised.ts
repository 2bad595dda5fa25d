import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * Runs a server process for integration tests (wrangler, Prometheus) so that nothing outlives the
 * test: the process runs under a watchdog that leads its own process group, and close() (or the
 * death of the test process) ends the whole group.
 */
export interface SupervisedOptions {
  /** Program the watchdog runs, and its arguments. */
  command: string;
  args: string[];
  /** Added to the test process's environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Scratch directory of the run. The watchdog removes it when it stops the child, so it goes away
   * even if the test process died; close() does not remove it (the caller may still read or reuse it).
   */
  scratch: string;
  /** File the output is appended to (output() reads it back); without it, the output is kept in memory. */
  logFile?: string;
  /** Called after each chunk of output is added to output() (only without logFile). */
  onOutput?: (chunk: string) => void;
  /**
   * What the watchdog does when the child exits on its own. "kill" (default): remove the scratch
   * directory and SIGKILL the group, so whatever the child started dies with it. "exit": exit with
   * the child's code and leave the group and the scratch directory alone, so the caller can read its
   * log and start it again in the same directory (e.g. after "address already in use").
   */
  onChildExit?: "kill" | "exit";
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the watchdog could not be started. */
  error?: Error;
}

export interface Supervised {
  /** Id of the process group (the watchdog, the child and what it started). */
  pid: number;
  /** Everything the child printed so far (stdout and stderr, interleaved). */
  output(): string;
  /** Settles when the watchdog exits (it exits with the child in "exit" mode). */
  exited: Promise<ExitStatus>;
  /**
   * Stops the child and waits until no process of the group runs; SIGKILLs the group after graceMs.
   * Safe to call twice.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Group leader between the test process and the child. On SIGTERM, or when its stdin closes
 * (close(), or the test process died without calling it), it sends the child SIGTERM, so the child
 * can clean up after itself; when the child exits it removes the scratch directory and SIGKILLs what
 * is left of its process group; after 3 s it does that anyway. When the child exits on its own, see
 * onChildExit.
 */
const WATCHDOG = `
const { spawn } = require("node:child_process");
const { rmSync } = require("node:fs");
const scratch = process.env.FAIRGATE_SUPERVISED_SCRATCH;
const exitWithChild = process.env.FAIRGATE_SUPERVISED_ON_CHILD_EXIT === "exit";
const pipe = process.env.FAIRGATE_SUPERVISED_STDIO === "pipe";
for (const v of ["FAIRGATE_SUPERVISED_SCRATCH", "FAIRGATE_SUPERVISED_ON_CHILD_EXIT", "FAIRGATE_SUPERVISED_STDIO"])
  delete process.env[v];
const [bin, ...args] = process.argv.slice(1);
// Piped output goes through the watchdog's pipes, never straight to the test's, so the child cannot
// die of EPIPE mid-cleanup when the test process is gone.
const child = spawn(bin, args, { stdio: ["ignore", pipe ? "pipe" : "inherit", pipe ? "pipe" : "inherit"] });
for (const out of [process.stdout, process.stderr]) out.on("error", () => {});
if (pipe) {
  child.stdout.on("data", (d) => process.stdout.write(d));
  child.stderr.on("data", (d) => process.stderr.write(d));
}
const killAll = () => {
  try { if (scratch) rmSync(scratch, { recursive: true, force: true }); } catch {}
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
// When exiting with the child, wait for "close" so that its last piped output is forwarded first.
// A child that dies of a signal says so in its output: an OOM kill or a crash reads differently from an exit code.
child.on("exit", (code, signal) => {
  if (!stopping && signal) console.error("[watchdog] " + bin + " was killed by " + signal);
});
child.on(exitWithChild ? "close" : "exit", (code) =>
  stopping || !exitWithChild ? killAll() : process.exit(code ?? 1),
);
child.on("error", (e) => {
  console.error(String(e));
  if (stopping || !exitWithChild) killAll();
  else process.exit(127);
});
`;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Whether any process of the group still runs. Zombies do not count: on a machine whose init reaps
 * orphans lazily, killed grandchildren (workerd, esbuild) linger as zombies for a second or more.
 */
export function groupAlive(pgid: number): boolean {
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

export function startSupervised(opts: SupervisedOptions): Supervised {
  const logFd = opts.logFile ? openSync(opts.logFile, "a") : undefined;
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ["-e", WATCHDOG, opts.command, ...opts.args], {
      cwd: opts.cwd,
      detached: true, // own process group, killed as one
      stdio: ["pipe", logFd ?? "pipe", logFd ?? "pipe"],
      env: {
        ...process.env,
        ...opts.env,
        FAIRGATE_SUPERVISED_SCRATCH: opts.scratch,
        FAIRGATE_SUPERVISED_ON_CHILD_EXIT: opts.onChildExit ?? "kill",
        FAIRGATE_SUPERVISED_STDIO: logFd === undefined ? "pipe" : "inherit",
      },
    });
  } finally {
    if (logFd !== undefined) closeSync(logFd);
  }
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A test that forgot close(): the watchdogs stop their groups (their stdin closes too).
    process.once("exit", () => {
      for (const c of live) c.kill("SIGTERM");
    });
  }
  child.stdin!.on("error", () => {});

  let collected = "";
  const output = opts.logFile
    ? () => {
        try {
          return readFileSync(opts.logFile!, "utf8");
        } catch {
          return ""; // not written yet, or removed with the scratch directory
        }
      }
    : () => collected;
  if (!opts.logFile) {
    const add = (d: string) => {
      collected += d;
      opts.onOutput?.(d);
    };
    child.stdout!.setEncoding("utf8").on("data", add);
    child.stderr!.setEncoding("utf8").on("data", add);
  }

  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
  });

  const pid = child.pid;
  let closed: Promise<void> | undefined;
  const close = (graceMs = 5000): Promise<void> =>
    (closed ??= (async () => {
      child.kill("SIGTERM"); // the watchdog: the child cleans up, then the rest of the group is killed
      child.stdin!.end();
      const deadline = Date.now() + graceMs;
      while (pid && groupAlive(pid) && Date.now() < deadline) await sleep(20);
      if (pid && groupAlive(pid)) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      while (pid && groupAlive(pid)) await sleep(20);
      await Promise.race([exited, sleep(1000)]);
      live.delete(child);
    })());

  return { pid: pid ?? 0, output, exited, close };
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export interface PortRetry {
  /** A restart on the port it had (just freed by our own server: wait a little), or a first start. */
  fixedPort: boolean;
  /** Starts the server; resolves true once it is ready, false when it exited first. */
  launch(): Promise<boolean>;
  /** Whether the server that exited said its port was taken. */
  taken(): boolean;
  /** At first start, the port to try next. */
  usePort(port: number): void;
  /** Why it failed for good. */
  failure(): Error;
}

/**
 * Starts a server that listens on a port chosen before it runs, which somebody may take in between: at first start
 * it tries another free port (up to 5 times); on a restart on its own port, which the old process may not have
 * freed yet, the same port again a little later (up to 50 times).
 */
export async function startRetryingPort(o: PortRetry): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if (await o.launch()) return;
    if (!o.taken() || attempt >= (o.fixedPort ? 50 : 5)) throw o.failure();
    if (o.fixedPort) await sleep(100);
    else o.usePort(await freePort());
  }
}
