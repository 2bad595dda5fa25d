import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { TopActors } from "./top-actors.js";
import { QuerierUsage } from "./usage.js";

/**
 * The frontend's metrics, in a registry of their own (several frontends may share a process in
 * tests). Names follow Loki's query scheduler where the concept is the same, so existing dashboards
 * and alerts carry over; the rest are fairgate_*.
 */
export interface FrontendSources {
  queuedByTenant(): { tenant: string; queued: number }[];
  queueSnapshot(): QueueSnapshot;
  queriers(): QuerierView[];
  asyncJobs(): AsyncJobView[];
  /** With several replicas: the live ones and who owns which tenant. */
  cluster?(): ClusterView;
}

/** The queue as operators see it (GET /debug/queue): the fair queue's tree, or only its length. */
export interface QueueSnapshot {
  queued: number;
  tenants?: QueueNodeView[];
}

/** A tenant, or an actor path segment below it, in the fair queue's tree; counts include the nodes below. */
export interface QueueNodeView {
  name: string;
  queued: number;
  /** Requests whose actor path ends at this node. */
  local: number;
  inflight: number;
  /** Querier time the fair queue has booked to the node (its charge, times its weight). */
  querier_time_ms: number;
  weight: number;
  children: QueueNodeView[];
}

/** The replicas as operators see them (the status data). */
export interface ClusterView {
  self: string;
  live: { id: string; url: string; started: string }[];
  /** Tenants this replica has served, and the replica that owns each now. */
  tenants: { tenant: string; owner: string }[];
}

export interface QuerierView {
  id: string;
  url: string;
  maxConcurrent: number;
  /** Extra slots for actors with nothing in flight (dispatch/admission.ts). */
  idleActorSlots: number;
  inflight: number;
  /** Of `inflight`, in the extra slots. */
  extraInflight: number;
  healthy: boolean;
  /** No longer found by DNS: finishing what runs there, taking nothing new. */
  draining?: boolean;
  failures: number;
  lastError?: string;
}

export interface AsyncJobView {
  tenants: string[];
  actorPath: string;
  state: string;
  progress: { splitsDone: number; splitsTotal: number };
  submittedAt: number;
  startedAt?: number;
}

/** What the cache did for one query. */
export interface CacheUse {
  hit: number;
  partial: number;
  miss: number;
  bytesReceived: number;
  bytesSent: number;
}

export class FrontendMetrics {
  readonly registry = new Registry();
  /** Read at scrape time, so the hot path keeps no gauges up to date. */
  sources?: FrontendSources;
  /** Who used the queriers recently (the status page), fed by the queue. */
  readonly usage: QuerierUsage;
  /** Split pieces waiting inside their query for a turn under max_query_parallelism, not yet in the queue. */
  heldPieces = 0;
  readonly heldPiecesGauge = this.#gauge(
    "fairgate_query_pieces_held_back",
    "Split pieces waiting inside their query for a turn under max_query_parallelism (not yet queued).",
    [],
    (g) => g.set(this.heldPieces),
  );
  /** Split pieces by cache outcome so far, read synchronously by the status page's sampler. */
  readonly cacheTally = { hit: 0, partial: 0, miss: 0 };

  /** Per-actor counters of queries and querier time, for the actors that used the most recently. */
  readonly topActors: TopActors;

  /**
   * `recentMs`: how long the status page keeps an actor, tenant or querier after its last sub-query; `topActors`:
   * how many actors get series of their own (frontend.top_actors).
   */
  constructor(recentMs = 900_000, topActors = 20) {
    this.usage = new QuerierUsage(recentMs);
    this.topActors = new TopActors(
      topActors,
      this.registry,
      (tenant, actor) => this.usage.actors.get(`${tenant}\0${actor}`, Date.now())?.querierMs ?? 0,
    );
  }
  readonly queueLength = this.#gauge(
    "loki_query_scheduler_queue_length",
    "Sub-queries waiting in the queue, per tenant.",
    ["user"],
    (g) => {
      g.reset();
      for (const t of this.sources?.queuedByTenant() ?? []) g.set({ user: t.tenant }, t.queued);
    },
  );
  readonly queueDuration = new Histogram({
    name: "loki_query_scheduler_queue_duration_seconds",
    help: "Time sub-queries waited in the queue before a querier took them.",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly discarded = new Counter({
    name: "loki_query_scheduler_discarded_requests_total",
    help: "Sub-queries that left the queue without running, by reason.",
    labelNames: ["user", "reason"],
    registers: [this.registry],
  });
  readonly querierInflight = this.#gauge(
    "fairgate_querier_inflight_requests",
    "Sub-queries running on each querier.",
    ["querier"],
    (g) => {
      for (const q of this.sources?.queriers() ?? []) g.set({ querier: q.id }, q.inflight);
    },
  );
  readonly querierHealthy = this.#gauge(
    "fairgate_querier_healthy",
    "1 while the querier passes its health check.",
    ["querier"],
    (g) => {
      for (const q of this.sources?.queriers() ?? []) g.set({ querier: q.id }, q.healthy ? 1 : 0);
    },
  );
  readonly querierShare = this.#gauge(
    "fairgate_querier_share_slots",
    "This replica's share of each querier's slots (all of them without membership), by kind of slot.",
    ["querier", "kind"],
    (g) => {
      for (const q of this.sources?.queriers() ?? []) {
        g.set({ querier: q.id, kind: "regular" }, q.maxConcurrent);
        g.set({ querier: q.id, kind: "idle_actor" }, q.idleActorSlots);
      }
    },
  );
  readonly discoveryFailures = new Counter({
    name: "fairgate_querier_discovery_failures_total",
    help: "Lookups of a dns+/dnssrv+ querier entry that failed or found nothing (the last good set was kept).",
    labelNames: ["entry"],
    registers: [this.registry],
  });
  readonly querierTime = new Counter({
    name: "fairgate_querier_time_seconds_total",
    help: "Querier time used, per tenant.",
    labelNames: ["user"],
    registers: [this.registry],
  });
  readonly asyncJobs = this.#gauge(
    "fairgate_async_jobs",
    "Asynchronous queries this replica runs, by state.",
    ["state"],
    (g) => {
      g.reset();
      const counts = new Map<string, number>([
        ["queued", 0],
        ["running", 0],
      ]);
      for (const j of this.sources?.asyncJobs() ?? []) counts.set(j.state, (counts.get(j.state) ?? 0) + 1);
      for (const [state, n] of counts) g.set({ state }, n);
    },
  );
  readonly asyncFinished = new Counter({
    name: "fairgate_async_jobs_finished_total",
    help: "Asynchronous queries that finished, by final state.",
    labelNames: ["state"],
    registers: [this.registry],
  });
  readonly cacheOutcomes = new Counter({
    name: "fairgate_cache_requests_total",
    help: "Split pieces answered from the results cache, by outcome (hit, partial, miss).",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly cacheBytes = new Counter({
    name: "fairgate_cache_bytes_total",
    help: "Bytes read from and written to the cache (compressed).",
    labelNames: ["direction"],
    registers: [this.registry],
  });
  readonly cacheErrors = new Counter({
    name: "fairgate_cache_errors_total",
    help: "Cache backend operations that failed or timed out, per memcached server.",
    labelNames: ["op", "server"],
    registers: [this.registry],
  });
  readonly cacheSkipped = new Counter({
    name: "fairgate_cache_skipped_total",
    help: "Values not stored, by reason.",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly cacheBypassed = new Gauge({
    name: "fairgate_cache_bypassed",
    help: "1 while a memcached server is bypassed after repeated failures (its keys miss), per server.",
    labelNames: ["server"],
    registers: [this.registry],
  });
  readonly blockedQueries = new Counter({
    name: "fairgate_blocked_queries_total",
    help: "Queries refused by a blocked_queries rule (tenant's or user group's), by the rule's reason.",
    labelNames: ["tenant", "reason"],
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: "fairgate_querier_retries_total",
    help: "Sub-queries retried after a 5xx or an unreachable querier.",
    registers: [this.registry],
  });

  readonly shardedQueries = new Counter({
    name: "fairgate_sharded_queries_total",
    help: "Range queries by whether they were sharded; reason says why one was not (e.g. 'aggregation quantile').",
    labelNames: ["sharded", "reason"],
    registers: [this.registry],
  });
  readonly shardsPerQuery = new Histogram({
    name: "fairgate_shards_per_query",
    help: "Shard queries (shards × legs; avg has two legs) of each sharded range query.",
    buckets: [2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });

  /** Counts a range query's sharding: how many shard queries it became, or why it stayed whole. */
  countShards(shards: number, reason?: string): void {
    this.shardedQueries.inc({ sharded: shards > 0 ? "true" : "false", reason: reason ?? "" });
    if (shards > 0) this.shardsPerQuery.observe(shards);
  }

  /** Counts what the cache did for one query. */
  countCache(c: CacheUse): void {
    for (const outcome of ["hit", "partial", "miss"] as const) {
      if (!c[outcome]) continue;
      this.cacheOutcomes.inc({ outcome }, c[outcome]);
      this.cacheTally[outcome] += c[outcome];
    }
    if (c.bytesReceived) this.cacheBytes.inc({ direction: "read" }, c.bytesReceived);
    if (c.bytesSent) this.cacheBytes.inc({ direction: "written" }, c.bytesSent);
  }

  #gauge(name: string, help: string, labelNames: string[], collect: (g: Gauge) => void): Gauge {
    return new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        collect(this);
      },
    });
  }
}
