import cluster from "node:cluster";
import { Hono } from "hono";
import { AggregatorRegistry, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Config } from "../config/schema.js";
import type { Frontend } from "../frontend/app.js";
import type { RequestLog } from "../observability/requests.js";
import { packageVersion, statusAssets } from "../observability/status-assets.js";
import { StatusHistory } from "../observability/status-history.js";
import { statusPage } from "../observability/status-page.js";
import type { Mode } from "./modes.js";
import type { RuntimeConfig } from "./runtime-config.js";

/** What the admin listener shows: this process's parts, and the probes answered as on the main listener. */
export interface AdminParts {
  mode: Mode;
  startedAt: number;
  requests: RequestLog;
  frontend?: Frontend;
  runtime?: RuntimeConfig;
  probe(path: "/healthz" | "/ready"): Promise<Response>;
}

export interface AdminApp {
  app: Hono;
  /** Stops the status page's sampling. */
  close(): void;
}

/** The admin listener's routes: operators' routes, the status page, and every metric of this process. */
export function adminApp(status: Config["status"], parts: AdminParts): AdminApp {
  const { requests, frontend, runtime, probe } = parts;
  const app = new Hono();
  const registries = processRegistries(parts);
  app.get("/metrics", async (c) => {
    const all = Registry.merge(registries);
    return c.body(await all.metrics(), 200, { "content-type": all.contentType });
  });
  app.get("/healthz", () => probe("/healthz"));
  app.get("/ready", () => probe("/ready"));
  // The status page polls the frontend's /debug/status and everyone's /debug/history; without a frontend it says so.
  const history = new StatusHistory(
    { windowMs: status.charts, intervalMs: status.sample_every },
    requests,
    frontend?.metrics,
  );
  const page = statusPage({
    mode: parts.mode,
    frontend: frontend !== undefined,
    version: packageVersion(),
    startedAt: parts.startedAt,
  });
  app.get("/status", (c) => c.body(page.html, 200, page.headers));
  app.get("/status/assets/:file", (c) => {
    const a = statusAssets()[c.req.param("file")];
    return a ? c.body(a.body, 200, a.headers) : c.text("no such asset\n", 404);
  });
  // The status page polls this in every mode: the runtime file's state travels with it.
  app.get("/debug/history", (c) => {
    const after = Number(c.req.query("after") ?? -1);
    const read = history.read(Number.isInteger(after) ? after : -1, c.req.query("tenant"));
    return c.json({ ...read, runtimeConfig: runtime?.status() ?? null }, 200, { "cache-control": "no-store" });
  });
  app.get("/debug/runtime-config", (c) =>
    runtime
      ? c.json(runtime.status(), 200, { "cache-control": "no-store" })
      : c.text("no runtime_config in this process's config\n", 404),
  );
  if (frontend) app.route("/", frontend.admin);
  return { app, close: () => history.close() };
}

/** Every registry of this process; a cluster worker's are also read by the primary, which adds them up. */
function processRegistries({ requests, frontend, runtime }: AdminParts): Registry[] {
  const processMetrics = new Registry();
  collectDefaultMetrics({ register: processMetrics }); // memory, CPU, event-loop lag, handles, GC
  const registries = [
    processMetrics,
    requests.registry,
    ...(frontend ? [frontend.metrics.registry] : []),
    ...(runtime ? [runtime.registry] : []),
  ];
  // prom-client answers the primary's requests once an AggregatorRegistry exists in the worker.
  if (cluster.isWorker) {
    const workers = new Gauge({
      name: "fairgate_workers",
      help: "Worker processes serving the listener (server.workers); the primary's /metrics adds them up.",
      registers: [processMetrics],
    });
    workers.set(1);
    AggregatorRegistry.setRegistries(registries);
    new AggregatorRegistry();
  }
  return registries;
}
