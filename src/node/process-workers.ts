// server.workers: N edge processes on one listener (node:cluster: the primary accepts connections and hands
// them out in turn). The primary serves no requests: it starts the workers (and another when one dies), keeps the
// one admin listener (every worker's metrics added up), and passes signals on: SIGTERM drains every worker,
// then it exits 0.
import cluster, { type Worker } from "node:cluster";
import { Hono } from "hono";
import { AggregatorRegistry } from "prom-client";
import type { Config } from "../config/schema.js";
import { requireFor, run, type Mode, type Running } from "./run.js";
import { listen, type Listener } from "./server.js";
import { stopOnSignals } from "./signals.js";

/** A worker could not start (it said why on stderr): the primary exits with its code. */
export class WorkerStartError extends Error {
  constructor(readonly code: number) {
    super(`a worker exited with ${code} while starting`);
  }
}

type Probe = "/healthz" | "/ready";
type Message =
  | { fairgate: "listening"; url: string }
  | { fairgate: "probe"; id: number; path: Probe }
  | { fairgate: "probed"; id: number; status: number; body: string };

const isMessage = (m: unknown): m is Message => typeof m === "object" && m !== null && "fairgate" in m;

/** In a worker: this process's share of the listener, without an admin listener; the primary is told the URL. */
export async function runWorker(config: Config, mode: Mode): Promise<void> {
  const running = await run({ ...config, server: { ...config.server, admin_listen: undefined } }, mode);
  stopOnSignals(running);
  process.on("message", (m) => {
    if (!isMessage(m) || m.fairgate !== "probe") return;
    void running
      .probe(m.path)
      .then(async (res) =>
        process.send?.({ fairgate: "probed", id: m.id, status: res.status, body: await res.text() } satisfies Message),
      );
  });
  process.send!({ fairgate: "listening", url: running.url } satisfies Message);
}

export interface Primary {
  url: string;
  adminUrl?: string;
  workers: number;
}

/** How long a probe waits for a worker's answer. */
const PROBE_MS = 5_000;
/** A worker that died is replaced after this pause (no tight loop when every start fails the same way). */
const RESTART_MS = 1_000;

/** In the primary: starts config.server.workers workers, the admin listener, and the signal handling. */
export async function runPrimary(config: Config, mode: Mode): Promise<Primary> {
  requireFor(mode, config);
  const workers = new Set<Worker>();
  let stopping = false;
  let url = "";

  const start = () =>
    new Promise<Worker>((resolve, reject) => {
      const worker = cluster.fork();
      let listening = false;
      workers.add(worker);
      worker.on("message", (m: unknown) => {
        if (!isMessage(m) || m.fairgate !== "listening") return;
        listening = true;
        url = m.url;
        resolve(worker);
      });
      worker.once("exit", (code, signal) => {
        workers.delete(worker);
        if (!listening) return reject(new WorkerStartError(code ?? 1));
        if (stopping) return;
        process.stderr.write(
          `fairgate: worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting another\n`,
        );
        const restart = () =>
          start().catch((e: unknown) =>
            process.stderr.write(
              `fairgate: the worker replacing ${worker.process.pid} failed to start: ${String(e)}\n`,
            ),
          );
        setTimeout(() => void restart(), RESTART_MS).unref();
      });
    });
  let admin: Listener | undefined;
  // Signals are handled from the start: a SIGTERM while workers start stops them too.
  const running: Pick<Running, "close" | "reload"> = {
    close: async (graceMs) => {
      stopping = true;
      const exits = [...workers].map((w) => new Promise((resolve) => w.once("exit", resolve)));
      for (const w of workers) w.process.kill("SIGTERM");
      // Each worker drains for up to graceMs itself; one that hangs beyond that is stopped.
      const late = setTimeout(
        () => {
          for (const w of workers) w.process.kill("SIGKILL");
        },
        (graceMs ?? 10_000) + 5_000,
      );
      await Promise.all(exits);
      clearTimeout(late);
      await admin?.close(1000);
    },
    // Each worker reads its own files again (TLS, runtime_config) and says what it did.
    reload: () => {
      for (const w of workers) w.process.kill("SIGHUP");
      const what = [config.server.tls && "server.tls", config.runtime_config && "runtime_config"].filter(Boolean);
      return [
        { ok: true, line: `asked ${workers.size} workers to reload (${what.join(", ") || "nothing to reload"})` },
      ];
    },
  };
  stopOnSignals(running);

  try {
    await Promise.all(Array.from({ length: config.server.workers }, start));
  } catch (e) {
    if (stopping) return new Promise<never>(() => undefined); // a signal came first: its handler exits
    stopping = true;
    for (const w of workers) w.process.kill("SIGTERM");
    throw e;
  }

  // Probes go to a worker over IPC: it answers as its own listener would, without a connection.
  let probeId = 0;
  const probe = (path: Probe): Promise<Response> => {
    const worker = [...workers][0];
    if (stopping || !worker) return Promise.resolve(new Response("not ready: shutting down\n", { status: 503 }));
    const id = ++probeId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        worker.off("message", onMessage);
        resolve(new Response(`worker ${worker.process.pid} did not answer within ${PROBE_MS} ms\n`, { status: 503 }));
      }, PROBE_MS);
      const onMessage = (m: unknown) => {
        if (!isMessage(m) || m.fairgate !== "probed" || m.id !== id) return;
        clearTimeout(timer);
        worker.off("message", onMessage);
        resolve(new Response(m.body, { status: m.status, headers: { "content-type": "text/plain; charset=utf-8" } }));
      };
      worker.on("message", onMessage);
      worker.send({ fairgate: "probe", id, path } satisfies Message);
    });
  };

  const metrics = new AggregatorRegistry();
  const adminApp = new Hono();
  adminApp.get("/metrics", async (c) =>
    c.body(await metrics.clusterMetrics(), 200, { "content-type": metrics.contentType }),
  );
  adminApp.get("/healthz", () => probe("/healthz"));
  adminApp.get("/ready", () => probe("/ready"));
  adminApp.all("*", (c) =>
    c.text(
      `${c.req.path} is not served with server.workers above 1: each worker sees only its own requests ` +
        "(/metrics adds up every worker's)\n",
      404,
    ),
  );
  if (config.server.admin_listen) admin = await listen(adminApp.fetch, config.server.admin_listen);

  return { url, adminUrl: admin?.url, workers: workers.size };
}
