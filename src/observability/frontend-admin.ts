import { Hono } from "hono";
import type { ActorDirectory } from "./actor-directory.js";
import type { FrontendMetrics, FrontendSources, QueueNodeView as QueueNode } from "./metrics.js";
import type { RecentUse } from "./recent.js";

/** What the status page needs to know of the frontend's configuration, to explain its numbers. */
export interface StatusFacts {
  /** Pieces of one query sent to the queue at a time (the default; tenants may have their own). */
  maxQueryParallelism: number;
}

/** The frontend's routes for operators, served on the admin listener: metrics, queue snapshot, status data. */
export function frontendAdmin(metrics: FrontendMetrics, facts: StatusFacts, directory?: ActorDirectory): Hono {
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
  admin.get("/debug/status", (c) =>
    c.json(statusData(metrics, facts, Date.now(), directory), 200, { "cache-control": "no-store" }),
  );
  // Who each actor path stands for: only here, on the admin listener, and only when status.actor_directory is on.
  admin.get("/debug/actors", (c) =>
    directory
      ? c.json({ actors: directory.list(), size: directory.size }, 200, { "cache-control": "no-store" })
      : c.text("the actor directory is off (status.actor_directory.enabled)\n", 404),
  );
  return admin;
}

/** Rows the page gets at most per table: the rest is counted, not sent. */
const TREE_ROWS = 300;
const ACTOR_ROWS = 100;
const TENANT_ROWS = 50;
const QUERIER_ROWS = 100;

/** What GET /debug/status answers, and the status page's client reads. */
export type StatusData = ReturnType<typeof statusData>;

/**
 * The status page's data: the queue tree, recently active actors, tenants and queriers, the
 * cache and the asynchronous jobs. Every table is bounded; names are untrusted and always sent as
 * values, never as object keys.
 */
export function statusData(metrics: FrontendMetrics, facts: StatusFacts, now = Date.now(), directory?: ActorDirectory) {
  const sources = metrics.sources!;
  const usage = metrics.usage;
  const snapshot = sources.queueSnapshot();
  const tenants = snapshot.tenants ?? [];
  const live = liveCounts(tenants);
  const recent = (use: RecentUse) => ({
    querierMs: Math.round(use.querierMs),
    ran: use.ran,
    meanWaitMs: use.ran ? Math.round(use.waitMs / use.ran) : 0,
    maxWaitMs: Math.round(use.maxWaitMs),
    lastActive: new Date(use.lastActive).toISOString(),
  });
  const actors = usage.actors.top(ACTOR_ROWS, now);
  const recentTenants = usage.tenants.top(TENANT_ROWS, now);
  const queriers = usage.queriers.top(QUERIER_ROWS, now);
  const querierUse = new Map(queriers.rows.map((r) => [r.labels.querier, r]));
  return {
    time: new Date(now).toISOString(),
    windowMs: usage.actors.windowMs,
    maxQueryParallelism: facts.maxQueryParallelism,
    queue: {
      queued: snapshot.queued,
      // Pieces of split queries not in the queue yet: max_query_parallelism holds them in their query.
      held: metrics.heldPieces,
      inflight: tenants.reduce((n, t) => n + t.inflight, 0),
      tenants: tenants.length,
      ...boundedTree(tenants, (shown) => querierMsByPath(metrics, shown, now)),
    },
    actors: {
      rows: actors.rows.map((r) => ({
        tenant: r.labels.tenant,
        actor: r.labels.actor,
        ...(directory ? { name: directory.nameOf(r.labels.actor) ?? null } : {}),
        ...live(r.labels.tenant, r.labels.actor === "" ? [] : r.labels.actor.split("|")),
        ...recent(r),
      })),
      rest: actors.rest,
    },
    tenants: {
      rows: recentTenants.rows.map((r) => ({
        tenant: r.labels.tenant,
        ...live(r.labels.tenant, []),
        ...recent(r),
      })),
      rest: recentTenants.rest,
    },
    queriers: sources.queriers().map((q) => {
      const { url, id, healthy, inflight, maxConcurrent, idleActorSlots, draining, failures, lastError } = q;
      const use = querierUse.get(id);
      return {
        url,
        healthy,
        draining: draining ?? false,
        inflight,
        maxConcurrent,
        idleActorSlots,
        failures,
        lastError: lastError ?? null,
        ...recent(use ?? { querierMs: 0, ran: 0, waitMs: 0, maxWaitMs: 0, lastActive: 0 }),
        lastActive: use ? new Date(use.lastActive).toISOString() : null,
      };
    }),
    cache: { hits: metrics.cacheTally.hit, partial: metrics.cacheTally.partial, misses: metrics.cacheTally.miss },
    async: asyncJobs(sources),
    cluster: sources.cluster?.() ?? null,
  };
}

/** Queued and in-flight counts of a tenant ([]) or of an actor path below it, from the queue's tree. */
function liveCounts(tenants: QueueNode[]) {
  const byName = new Map(tenants.map((t) => [t.name, t]));
  return (tenant: string, path: string[]) => {
    let node = byName.get(tenant);
    for (const seg of path) node = node?.children.find((c) => c.name === seg);
    return { queued: node?.queued ?? 0, inflight: node?.inflight ?? 0 };
  };
}

/** Querier time in the recent window of the given tenants and of every actor path prefix below them ("t\0a|b"). */
function querierMsByPath(metrics: FrontendMetrics, tenants: Set<string>, now: number): Map<string, number> {
  const out = new Map<string, number>();
  const add = (key: string, ms: number) => out.set(key, (out.get(key) ?? 0) + ms);
  for (const [{ tenant, actor }, use] of metrics.usage.actors.all(now)) {
    if (!tenants.has(tenant)) continue;
    add(tenant, use.querierMs);
    let prefix = "";
    for (const seg of actor === "" ? [] : actor.split("|")) {
      prefix = prefix ? `${prefix}|${seg}` : seg;
      add(`${tenant}\0${prefix}`, use.querierMs);
    }
  }
  return out;
}

interface TreeRow {
  depth: number;
  tenant: string;
  path: string[];
  queued: number;
  inflight: number;
  chargedMs: number;
  weight: number;
}

/** The busiest part of the tree, depth first, at most TREE_ROWS rows; `omitted` counts the nodes left out. */
function boundedTree(tenants: QueueNode[], querierMs: (tenants: Set<string>) => Map<string, number>) {
  const busy = (n: QueueNode) => n.queued + n.inflight;
  const order = (a: QueueNode, b: QueueNode) => busy(b) - busy(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const count = (n: QueueNode): number => n.children.reduce((k, c) => k + count(c), 1);
  const rows: TreeRow[] = [];
  let omitted = 0;
  const walk = (n: QueueNode, tenant: string, path: string[]) => {
    // Past the last row the rest is only counted: no sorting, no copies.
    if (rows.length >= TREE_ROWS) return void (omitted += count(n));
    rows.push({
      depth: path.length,
      tenant,
      path,
      queued: n.queued,
      inflight: n.inflight,
      chargedMs: n.querier_time_ms,
      weight: n.weight,
    });
    for (const c of n.children.slice().sort(order)) walk(c, tenant, [...path, c.name]);
  };
  for (const t of tenants.slice().sort(order)) walk(t, t.name, []);
  const used = querierMs(new Set(rows.map((r) => r.tenant)));
  return {
    rows: rows.map((r) => ({
      ...r,
      querierMs: Math.round(used.get(r.path.length ? `${r.tenant}\0${r.path.join("|")}` : r.tenant) ?? 0),
    })),
    omitted,
  };
}

const iso = (ms?: number) => (ms === undefined ? undefined : new Date(ms).toISOString());

function asyncJobs(sources: FrontendSources) {
  const running = sources.asyncJobs();
  const states: [string, number][] = [];
  for (const r of running) {
    const s = states.find(([name]) => name === r.state);
    if (s) s[1]++;
    else states.push([r.state, 1]);
  }
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
