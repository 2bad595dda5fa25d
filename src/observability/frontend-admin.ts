import { Hono } from "hono";
import type { FrontendMetrics, FrontendSources } from "./metrics.js";

/** The frontend's routes for operators, served on the admin listener: metrics, queue snapshot, status data. */
export function frontendAdmin(metrics: FrontendMetrics): Hono {
  const admin = new Hono();
  admin.get("/metrics", async (c) =>
    c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
  );
  admin.get("/debug/queue", (c) => {
    const sources = metrics.sources!;
    return c.json({
      queue: sources.queueSnapshot(),
      queriers: sources
        .queriers()
        .map(({ id, inflight, healthy, lastError }) => ({ id, inflight, healthy, lastError })),
    });
  });
  // What the status page (/status on the admin listener) polls.
  admin.get("/debug/status", async (c) => c.json(await statusData(metrics), 200, { "cache-control": "no-store" }));
  return admin;
}

/** The status page's data: queue tree, queriers, cache outcomes, asynchronous jobs. */
export async function statusData(metrics: FrontendMetrics) {
  const sources = metrics.sources!;
  return {
    time: new Date().toISOString(),
    queue: sources.queueSnapshot(),
    // [tenant, ms] pairs: tenant names are untrusted, so they never become object keys.
    querierMsByTenant: await querierMsOfQueuedTenants(metrics, sources),
    queriers: sources.queriers().map(({ url, healthy, inflight, maxConcurrent, failures, lastError }) => ({
      url,
      healthy,
      inflight,
      maxConcurrent,
      failures,
      lastError: lastError ?? null,
    })),
    cache: await cacheOutcomes(metrics),
    async: asyncJobs(sources),
  };
}

/** Real querier time of the tenants in the queue tree (the tree itself holds the fair queue's charges). */
async function querierMsOfQueuedTenants(metrics: FrontendMetrics, sources: FrontendSources) {
  const queued = new Set(sources.queuedByTenant().map((t) => t.tenant));
  return (await metrics.querierTime.get()).values
    .filter((v) => queued.has(String(v.labels.user)))
    .map((v) => [String(v.labels.user), Math.round(v.value * 1000)]);
}

async function cacheOutcomes(metrics: FrontendMetrics) {
  const outcomes = new Map((await metrics.cacheOutcomes.get()).values.map((v) => [v.labels.outcome, v.value]));
  return { hits: outcomes.get("hit") ?? 0, partial: outcomes.get("partial") ?? 0, misses: outcomes.get("miss") ?? 0 };
}

const iso = (ms?: number) => (ms === undefined ? undefined : new Date(ms).toISOString());

function asyncJobs(sources: FrontendSources) {
  const running = sources.asyncJobs();
  const states: Record<string, number> = {};
  for (const r of running) states[r.state] = (states[r.state] ?? 0) + 1;
  return {
    running: running.length,
    states,
    // Bounded: the page lists the oldest jobs; the count says how many there are.
    jobs: running
      .sort((a, b) => a.submittedAt - b.submittedAt)
      .slice(0, 100)
      .map((r) => ({
        tenants: r.tenants,
        actorPath: r.actorPath,
        state: r.state,
        progress: r.progress,
        submittedAt: iso(r.submittedAt),
        startedAt: iso(r.startedAt),
      })),
  };
}
