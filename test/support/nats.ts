import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ExitStatus, freePort, startRetryingPort, type Supervised, startSupervised } from "./supervised.js";

/**
 * A real nats-server with JetStream (the Debian `nats-server` binary) on a free loopback port, its
 * store in a scratch folder, supervised so that nothing outlives the test. restart() kills it
 * (SIGKILL, as a crash) and starts it again on the same port and store; close() stops it for good
 * and removes the store.
 */
export interface TestNats {
  /** "nats://127.0.0.1:PORT", as async.nats.servers takes it. */
  url: string;
  port: number;
  /** Kills it; the store and the port stay for start(). */
  kill(): Promise<void>;
  /** Starts it again on the same port and store, and waits until it is ready. */
  start(): Promise<void>;
  close(): Promise<void>;
  output(): string;
}

// Where Debian installs it (not on every user's PATH); NATS_SERVER_BIN picks another.
const NATS_BIN = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startNats(opts: { timeoutMs?: number } = {}): Promise<TestNats> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const scratch = await mkdtemp(join(tmpdir(), "fairgate-nats-"));
  let port = await freePort();
  let proc: Supervised | undefined;
  let exited: ExitStatus | undefined;
  let log = "";

  /** True once ready; false when it exited first (its port taken, say). */
  const launch = async (): Promise<boolean> => {
    const before = log.length;
    exited = undefined;
    const args = ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", join(scratch, "store")];
    // onChildExit "exit": a crash (or kill()) leaves the store folder for the next start.
    const p = startSupervised({ command: NATS_BIN, args, scratch, onChildExit: "exit", onOutput: (d) => (log += d) });
    proc = p;
    void p.exited.then((s) => {
      if (proc === p) exited = s;
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited) return false;
      if (log.slice(before).includes("Server is ready")) return true;
      await sleep(20);
    }
    throw new Error(`nats-server was not ready on port ${port} within ${timeoutMs} ms\n${log}`);
  };

  const start = (fixedPort: boolean) =>
    startRetryingPort({
      fixedPort,
      launch,
      taken: () => /address already in use/i.test(log),
      usePort: (p) => (port = p),
      failure: () => new Error(`nats-server exited (${exited?.signal ?? exited?.code}) before it was ready\n${log}`),
    });

  await start(false);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    kill: async () => {
      const p = proc;
      if (!p) return;
      proc = undefined;
      // The whole group at once: the watchdog too, so that it does not remove the store.
      process.kill(-p.pid, "SIGKILL");
      await p.exited;
    },
    start: async () => {
      if (proc) throw new Error("nats-server is already running");
      await start(true);
    },
    close: async () => {
      if (proc) return proc.close();
      // Killed and not started again: one more run, only to let its watchdog remove the store.
      await start(true);
      await proc!.close();
    },
    output: () => log,
  };
}
