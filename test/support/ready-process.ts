import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ExitStatus, freePort, startSupervised } from "./supervised.js";

/**
 * A Grafana server process (Loki, Mimir) for tests and benchmarks: a config file written on free loopback ports in a
 * scratch directory, the binary supervised so nothing outlives the test, ready once GET /ready answers `ready`. A
 * port taken between choosing it and the bind makes it start again on other ports.
 */

export interface ReadyProcess {
  /** http://127.0.0.1:HTTP_PORT */
  url: string;
  /** The ports the config was written with: [http, grpc, ...the rest asked for]. */
  ports: number[];
  /** Everything the process printed so far. */
  logs(): string;
  /** Stops it and removes its scratch directory; safe to call twice. */
  close(): Promise<void>;
  /** How long it took to answer /ready. */
  readyMs: number;
  /** False once it has exited, stopped by close() or not. */
  alive(): boolean;
}

export interface ReadyProcessOptions {
  /** For messages: "loki", "mimir querier 2". */
  name: string;
  bin: string;
  /** Arguments besides -config.file (e.g. -target=querier). */
  args?: string[];
  /** How many ports to choose (at least 2: http, grpc). */
  portCount: number;
  /** The config file's text for this scratch directory and these ports. */
  config(dir: string, ports: number[]): string;
  /** How long to wait for /ready (default 90 s). */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startReadyProcess(o: ReadyProcessOptions): Promise<ReadyProcess> {
  const deadline = Date.now() + (o.timeoutMs ?? 90_000);
  const t0 = Date.now();
  for (let attempt = 1; ; attempt++) {
    const scratch = await mkdtemp(join(tmpdir(), `fairgate-${o.name.replaceAll(" ", "-")}-`));
    const ports: number[] = [];
    while (ports.length < o.portCount) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const configFile = join(scratch, "config.yaml");
    await writeFile(configFile, o.config(scratch, ports));
    const proc = startSupervised({
      command: o.bin,
      args: [`-config.file=${configFile}`, ...(o.args ?? [])],
      scratch,
      onChildExit: "exit",
    });
    let exited: ExitStatus | undefined;
    void proc.exited.then((s) => (exited = s));
    const url = `http://127.0.0.1:${ports[0]}`;
    let closing: Promise<void> | undefined;
    const close = () => (closing ??= proc.close());
    while (!exited && Date.now() < deadline) {
      try {
        const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2000) });
        const text = await res.text();
        if (res.status === 200 && text.trim() === "ready") {
          // Every later failure of the suite would only say "connection refused": say why it is gone.
          void proc.exited.then((s) => {
            if (!closing)
              console.error(
                `${o.name} at ${url} exited before the test stopped it (${s.signal ?? `code ${s.code}`}); ` +
                  `its last output:\n${proc.output().slice(-4000)}`,
              );
          });
          return { url, ports, logs: proc.output, close, readyMs: Date.now() - t0, alive: () => !exited };
        }
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    await close();
    const log = proc.output();
    if (exited && /address already in use/.test(log) && attempt < 5) continue;
    throw new Error(
      `${o.name} ${exited ? `exited (${exited.signal ?? exited.code})` : "not ready in time"}\n` +
        `--- ${o.name} log ---\n${log.slice(-4000)}`,
    );
  }
}

/** Polls `probe` until it resolves true, every 250 ms, up to `timeoutMs`; throws `what` after that. */
export async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Whether a GET of `url` for a probe tenant answers 200 within 5 s. */
export async function answersOk(url: string): Promise<boolean> {
  const res = await fetch(url, { headers: { "x-scope-orgid": "probe" }, signal: AbortSignal.timeout(5000) });
  await res.text();
  return res.status === 200;
}
