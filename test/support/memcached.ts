import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startRetryingPort, startSupervised, type ExitStatus, type Supervised } from "./supervised.js";

/**
 * A real memcached (the Debian `memcached` binary) for cache tests, supervised so that nothing
 * outlives the test. stop() kills it and keeps its port, so that start() brings it back at the same
 * address (an outage in the middle of a run); close() stops it for good.
 */
export interface TestMemcached {
  /** "127.0.0.1:PORT", as the frontend's `cache.memcached.servers` takes it. */
  address: string;
  port: number;
  /** Kills memcached (its items are gone); the port stays free for start(). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty, and waits until it accepts connections. */
  start(): Promise<void>;
  close(): Promise<void>;
  /**
   * Freezes memcached (SIGSTOP): connections stay open, nothing is answered, until resume(). Resolves once every
   * thread is stopped: SIGSTOP takes effect asynchronously, and a thread still running on the other core could
   * answer one more request (seen on a busy 2-core machine).
   */
  pause(): Promise<void>;
  resume(): void;
  /** Whether memcached runs now. */
  running(): boolean;
  /** Empties it (`flush_all`). */
  flushAll(): Promise<void>;
  /** The general statistics (`stats`): curr_items, total_items, bytes, cmd_set... as strings. */
  stats(): Promise<Record<string, string>>;
  /** What memcached printed so far (over all starts). */
  output(): string;
}

export interface StartMemcachedOptions {
  /** memcached's own item size limit (-I), in bytes; memcached's default is 1 MiB. */
  maxItemBytes?: number;
  /** How long to wait for it to accept connections (default 10 s). */
  timeoutMs?: number;
}

const MEMCACHED_BIN = process.env.MEMCACHED_BIN ?? "/usr/bin/memcached";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One text-protocol command; resolves with the answer up to (and including) a line that ends it. */
export function memcachedCommand(
  port: number,
  command: string,
  done = /^(OK|END|ERROR|CLIENT_ERROR.*|SERVER_ERROR.*)\r\n/m,
  timeoutMs = 2000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    const timer = setTimeout(
      () =>
        finish(new Error(`memcached ${command.trim()}: no answer in ${timeoutMs} ms (got ${JSON.stringify(answer)})`)),
      timeoutMs,
    );
    const finish = (e?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      e ? reject(e) : resolve(answer);
    };
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      answer += d;
      if (done.test(answer)) finish();
    });
    socket.on("error", (e) => finish(e));
    socket.write(command);
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/** Waits (at most 2 s) until every thread of `pid` is in the stopped state ("T" in /proc/PID/task/TID/stat). */
async function allStopped(pid: number): Promise<void> {
  const stopped = () => {
    try {
      return readdirSync(`/proc/${pid}/task`).every((tid) =>
        /\) T /.test(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")),
      );
    } catch {
      return true; // no /proc (not Linux), or the process is gone: nothing more to wait for
    }
  };
  const deadline = Date.now() + 2000;
  while (!stopped() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

export async function startMemcached(opts: StartMemcachedOptions = {}): Promise<TestMemcached> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let port = await freePort();
  let proc: Supervised | undefined;
  let exited: ExitStatus | undefined;
  let log = "";

  const launch = async (): Promise<boolean> => {
    const scratch = await mkdtemp(join(tmpdir(), "fairgate-memcached-"));
    const args = ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "64", "-t", "2"];
    if (opts.maxItemBytes !== undefined) {
      args.push("-I", String(opts.maxItemBytes));
      // memcached's slab chunks (512 KiB by default) may not be larger than an item.
      if (opts.maxItemBytes < 1024 * 1024) args.push("-o", `slab_chunk_max=${Math.floor(opts.maxItemBytes / 2)}`);
    }
    // memcached refuses to run as root unless told which user to be.
    if (process.getuid?.() === 0) args.push("-u", "root");
    exited = undefined;
    const p = startSupervised({
      command: MEMCACHED_BIN,
      args,
      scratch,
      onChildExit: "exit",
      onOutput: (d) => (log += d),
    });
    proc = p;
    void p.exited.then((s) => {
      if (proc === p) exited = s;
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited) {
        await p.close();
        proc = undefined;
        return false;
      }
      if (await accepts(port)) return true;
      await sleep(20);
    }
    await p.close();
    throw new Error(`memcached did not accept connections on port ${port} within ${timeoutMs} ms\n${log}`);
  };

  const start = (fixedPort: boolean) =>
    startRetryingPort({
      fixedPort,
      launch,
      taken: () => /address already in use|failed to listen/i.test(log),
      usePort: (p) => (port = p),
      failure: () =>
        new Error(`memcached exited (${exited?.signal ?? exited?.code}) before accepting connections\n${log}`),
    });

  const stop = async () => {
    const p = proc;
    proc = undefined;
    await p?.close();
  };

  await start(false);
  const m: TestMemcached = {
    address: `127.0.0.1:${port}`,
    port,
    stop,
    start: async () => {
      if (proc) throw new Error("memcached is already running");
      await start(true);
    },
    close: stop,
    pause: async () => {
      if (!proc) return;
      process.kill(-proc.pid, "SIGSTOP");
      await allStopped(proc.pid);
    },
    resume: () => proc && process.kill(-proc.pid, "SIGCONT"),
    running: () => proc !== undefined && exited === undefined,
    flushAll: async () => {
      const answer = await memcachedCommand(port, "flush_all\r\n");
      if (!answer.startsWith("OK")) throw new Error(`memcached flush_all: ${answer}`);
    },
    stats: async () => {
      const answer = await memcachedCommand(port, "stats\r\n");
      return Object.fromEntries([...answer.matchAll(/^STAT (\S+) (.*)\r$/gm)].map((x) => [x[1]!, x[2]!]));
    },
    output: () => log,
  };
  return m;
}
