import { Hono, type Context } from "hono";
import type { FrontendConfig } from "../config/schema.js";
import { ApiError, errorBody, errorResponse } from "../http/errors.js";
import { cleanRequestHeaders } from "../http/forward.js";
import type { Identity } from "../identity/identity.js";
import type { Codec } from "./api/codec.js";
import { lokiCodec } from "./api/loki.js";
import { one, parsed, readParams, without } from "./api/params.js";
import { parseStepMs } from "./api/time.js";
import { AsyncJobs, type Answer, type JobRecord } from "./async/jobs.js";
import { prometheusCodec } from "./api/prometheus.js";
import { QuerierPool, type Job } from "./dispatch/pool.js";
import { requireIdentity, type IdentityVerifier } from "./identity.js";
import { limitsFor } from "./limits.js";
import { align } from "./pipeline/align.js";
import { leadStep } from "./pipeline/lead-step.js";
import { split } from "./pipeline/split.js";
import { resultsCache } from "./pipeline/results-cache.js";
import { pieceCache } from "./pipeline/piece-cache.js";
import { AnswerCache } from "./pipeline/answer-cache.js";
import { buildCache } from "./cache/build.js";
import { StoredValues } from "./cache/stored.js";
import type { Cache } from "./cache/cache.js";
import { FairQueue } from "./queue/fair-queue.js";
import type { RequestQueue } from "./queue/queue.js";
import { FrontendMetrics } from "../observability/metrics.js";
import {
  compose,
  emptyCacheStats,
  type Api,
  type Handler,
  type QueryContext,
  type QueryResponse,
  type QueryStats,
} from "./types.js";

export interface FrontendDeps {
  verifyIdentity?: IdentityVerifier;
  queue?: RequestQueue<Job>;
  /** Replaces the configured cache backend (tests). */
  cache?: Cache;
  /** Hash for results cache keys (tests force collisions with it). */
  cacheKeyHash?: (full: string) => string;
  now?: () => number;
  log?: (line: string) => void;
  /** Told what each query did (for logs and metrics). */
  observe?: (fields: Record<string, unknown>) => void;
}

export interface Frontend {
  app: Hono<Env>;
  jobs: AsyncJobs;
  pool: QuerierPool;
  cache: Cache;
  queue: RequestQueue<Job>;
  metrics: FrontendMetrics;
  /** Routes for operators (metrics, queue snapshot, the status page's data), served on the admin listener. */
  admin: Hono;
  close(): void;
}

type Env = { Variables: { identity: Identity } };

/** Headers the queriers get: the identity's tenant and actor path, nothing a client wrote. */
export function querierHeaders(req: Request, identity: Identity): Headers {
  const h = cleanRequestHeaders(req.headers, {
    proto: new URL(req.url).protocol.replace(":", ""),
    keepAuthorization: false,
  });
  h.set("x-scope-orgid", identity.tenants.join("|"));
  h.set("x-loki-actor-path", identity.actorPath);
  return h;
}

const codecs: Record<Api, Codec> = { loki: lokiCodec, prometheus: prometheusCodec };

/** Loki reports cache use in stats.cache.result; fill it with what this query's pieces did. */
function lokiCacheStats(json: unknown, stats: QueryStats): void {
  const data = (json as { data?: { resultType?: string; stats?: { cache?: Record<string, unknown> } } })?.data;
  if (!data || (!data.stats && data.resultType === undefined)) return;
  // An answer served wholly from cache has no execution stats; it still tells what the cache did.
  data.stats ??= {};
  const c = stats.cache;
  data.stats.cache = {
    ...data.stats.cache,
    result: {
      entriesFound: c.entriesFound,
      entriesRequested: c.entriesRequested,
      entriesStored: c.entriesStored,
      bytesReceived: c.bytesReceived,
      bytesSent: c.bytesSent,
      requests: c.entriesRequested,
      downloadTime: 0,
      queryLengthServed: Number(c.queryLengthServedNs),
    },
  };
}

function bodyOf(res: QueryResponse, stats: QueryStats, api: Api): string | Uint8Array | undefined {
  if (api === "loki" && res.json !== undefined) lokiCacheStats(res.json, stats);
  return res.json !== undefined ? JSON.stringify(res.json) : res.raw;
}

const cacheOutcome = (c: QueryStats["cache"]) =>
  c.hit + c.partial + c.miss === 0 ? undefined : c.partial || (c.hit && c.miss) ? "partial" : c.hit ? "hit" : "miss";

function encode(res: QueryResponse, stats: QueryStats, api: Api): Response {
  const body = bodyOf(res, stats, api);
  const outcome = cacheOutcome(stats.cache);
  const headers: Record<string, string> = {
    "content-type": res.contentType,
    // Where the time went, for the browser's network panel and for people reading curl -i.
    "server-timing": `queue;dur=${stats.queueWaitMs}, querier;dur=${stats.querierMs}${outcome ? `, cache;desc=${outcome}` : ""}`,
    "x-fairgate-splits": String(stats.splits),
  };
  if (outcome) headers["x-fairgate-cache"] = outcome;
  return new Response(body as BodyInit, { status: res.status, headers });
}

export function createFrontend(config: FrontendConfig, deps: FrontendDeps = {}): Frontend {
  const metrics = new FrontendMetrics();
  const queue = deps.queue ?? fairQueue(config);
  const pool = new QuerierPool(config, queue, codecs, metrics);
  metrics.sources = {
    queuedByTenant: () =>
      queue instanceof FairQueue ? queue.queuedByTenant() : [{ tenant: "", queued: queue.length }],
    queriers: () => pool.queriers,
    asyncJobs: () => jobs.list(),
  };
  const log = deps.log ?? ((line: string) => console.error(line));
  const cache =
    deps.cache ??
    buildCache(config.cache, {
      error: (op) => metrics.cacheErrors.inc({ op }),
      // Logged once per outage, not per request: the breaker turns a dead memcached into one line.
      state: (open) => {
        metrics.cacheBypassed.set(open ? 1 : 0);
        log(
          open
            ? `cache: memcached is failing; bypassing it for ${config.cache.memcached?.breaker_cooldown ?? 0} ms at a time (queries go on uncached)`
            : "cache: memcached is back",
        );
      },
      skipped: () => metrics.cacheSkipped.inc({ reason: "too_large" }),
    });
  const maxItem =
    config.cache.backend === "memcached" ? config.cache.memcached!.max_item_bytes : config.cache.memory_max_bytes;
  const store = new StoredValues(cache, maxItem);
  const jobs = new AsyncJobs(store, config.async, deps.now, (state) => metrics.asyncFinished.inc({ state }));
  const answers = config.cache.results.enabled
    ? new AnswerCache(
        store,
        config.cache.results.ttl / 1000,
        deps.now,
        deps.cacheKeyHash && ((full) => `qa:${deps.cacheKeyHash!(full)}`),
      )
    : undefined;
  const c = config.cache;
  const pipeline: Handler = compose(
    align((tenants) => limitsFor(config, tenants).align_queries_with_step),
    split((req, parts) => codecs[req.api].merge(req, parts)),
    ...(c.results.enabled
      ? [
          resultsCache({
            store,
            ttlSeconds: c.results.ttl / 1000,
            minExtentMs: c.results.min_extent,
            hash: deps.cacheKeyHash,
            now: deps.now,
          }),
        ]
      : []),
    pieceCache({
      store,
      metadata: c.metadata.enabled ? { ttlSeconds: c.metadata.ttl / 1000 } : undefined,
      emptyLogs: c.empty_logs.enabled ? { ttlSeconds: c.empty_logs.ttl / 1000 } : undefined,
      now: deps.now,
    }),
    leadStep,
  )(pool.dispatch);

  const app = new Hono<Env>();
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/ready", (c) => {
    const reason = pool.notReady();
    return reason ? c.text(`not ready: ${reason}\n`, 503) : c.text("ready\n");
  });
  app.use("*", requireIdentity(deps.verifyIdentity));

  const serve = (api: Api, prefix: RegExp) => async (c: Context<Env>) => {
    const path = c.req.path;
    const route = path.replace(prefix, "");
    if (c.req.method !== "GET" && c.req.method !== "POST")
      throw new ApiError("method_not_allowed", `${c.req.method} is not allowed on ${path}; use GET or POST`, {
        allow: "GET, POST",
      });
    const identity = c.get("identity");
    const limits = limitsFor(config, identity.tenants);
    const all = await readParams(c.req.raw);
    const params = without(all, "async", "wait");
    const req = { ...codecs[api].parse(route, params, BigInt(Date.now()) * 1_000_000n, limits), path };
    const newContext = (signal: AbortSignal, deadline: number): QueryContext => {
      const ctx: QueryContext = {
        identity,
        forwardHeaders: querierHeaders(c.req.raw, identity),
        signal,
        deadline,
        limits,
        stats: { splits: 0, queueWaitMs: 0, querierMs: 0, retries: 0, cache: emptyCacheStats() },
      };
      ctx.forwardHeaders.delete("content-type");
      return ctx;
    };

    if (one(all, "async") === "true" && (route === "query_range" || route === "query")) {
      const waitMs = Math.min(
        parsed(all, "wait", parseStepMs, "duration", () => 0),
        config.async.max_wait,
      );
      const { record, done } = await jobs.submit(
        identity,
        async (signal, progress) => {
          const ctx = { ...newContext(signal, Date.now() + config.async.deadline), progress };
          const res = await pipeline(req, ctx);
          const body = bodyOf(res, ctx.stats, api);
          return {
            status: res.status,
            contentType: res.contentType,
            body: typeof body === "string" ? body : new TextDecoder().decode(body),
          };
        },
        (e) => ({ status: e.status, ...errorBody(e, path) }),
      ); // the error the synchronous query would answer
      if (waitMs > 0) {
        const finished = await Promise.race([
          done.then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), waitMs).unref?.()),
        ]);
        if (finished) {
          const answer = await jobs.answer(record.id, record);
          if (answer) return answerResponse(answer);
        }
      }
      return c.json({ status: "success", data: { id: record.id, state: record.state } }, 202, {
        location: `/fairgate/api/v1/async/${record.id}`,
      });
    }

    const timeout = AbortSignal.timeout(limits.query_timeout);
    const ctx = newContext(AbortSignal.any([c.req.raw.signal, timeout]), Date.now() + limits.query_timeout);
    const answerKey = answers?.keyFor(req, ctx);
    const kept = answerKey ? await answers!.get(answerKey) : undefined;
    if (kept) ctx.stats.cache.hit = 1;
    try {
      const res: QueryResponse = kept
        ? { status: 200, contentType: "application/json", raw: new Uint8Array(kept) }
        : await pipeline(req, ctx);
      const cs = ctx.stats.cache;
      deps.observe?.({
        tenant: identity.tenants.join("|"),
        actor: identity.actorPath,
        splits: ctx.stats.splits,
        cache: cacheOutcome(cs),
        queue_wait_ms: ctx.stats.queueWaitMs,
        querier_ms: ctx.stats.querierMs,
        retries: ctx.stats.retries,
      });
      for (const outcome of ["hit", "partial", "miss"] as const)
        if (cs[outcome]) metrics.cacheOutcomes.inc({ outcome }, cs[outcome]);
      if (cs.bytesReceived) metrics.cacheBytes.inc({ direction: "read" }, cs.bytesReceived);
      if (cs.bytesSent) metrics.cacheBytes.inc({ direction: "written" }, cs.bytesSent);
      const response = encode(res, ctx.stats, api);
      // Kept before answering, so the next identical request (often the next dashboard viewer) finds it.
      if (
        answerKey &&
        !kept &&
        !cs.noStore &&
        res.status === 200 &&
        (res.json as { status?: string } | undefined)?.status === "success"
      )
        await answers!.put(answerKey, await response.clone().text());
      return response;
    } catch (e) {
      if (timeout.aborted)
        throw new ApiError(
          "timeout",
          `query timed out after ${limits.query_timeout / 1000}s; try a smaller time range or a larger step`,
        );
      if (c.req.raw.signal.aborted) throw new ApiError("canceled", "the client went away");
      throw e;
    }
  };
  const unknownJob = (id: string) =>
    new ApiError("not_found", `no asynchronous query ${id.slice(0, 64)} (unknown, expired or cancelled)`);
  app.get("/fairgate/api/v1/async/:id/status", async (c) => {
    const r = await jobs.status(c.req.param("id"), c.get("identity"));
    if (!r) throw unknownJob(c.req.param("id"));
    return c.json(statusOf(r));
  });
  app.get("/fairgate/api/v1/async/:id", async (c) => {
    const r = await jobs.status(c.req.param("id"), c.get("identity"));
    if (!r) throw unknownJob(c.req.param("id"));
    if (r.state === "queued" || r.state === "running") return c.body(null, 204);
    const answer = await jobs.answer(r.id, r);
    if (!answer) throw unknownJob(r.id);
    return answerResponse(answer);
  });
  app.delete("/fairgate/api/v1/async/:id", async (c) => {
    if (!(await jobs.cancel(c.req.param("id"), c.get("identity")))) throw unknownJob(c.req.param("id"));
    return c.body(null, 204);
  });
  app.all("/loki/api/v1/*", serve("loki", /^\/loki\/api\/v1\//));
  app.all("/api/v1/*", serve("prometheus", /^\/api\/v1\//));
  app.all("/prometheus/api/v1/*", serve("prometheus", /^\/prometheus\/api\/v1\//));
  app.all("*", (c) => {
    throw new ApiError("not_found", `no route ${c.req.path}`);
  });

  app.onError((err, c) => {
    if (err instanceof ApiError) return errorResponse(err, c.req.path);
    console.error("frontend: unexpected error", err);
    return errorResponse(new ApiError("internal", "internal error in the query frontend"), c.req.path);
  });
  const admin = new Hono();
  admin.get("/metrics", async (c) =>
    c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
  );
  const queueSnapshot = () => (queue instanceof FairQueue ? queue.snapshot() : { queued: queue.length });
  admin.get("/debug/queue", (c) =>
    c.json({
      queue: queueSnapshot(),
      queriers: pool.queriers.map(({ id, inflight, healthy, lastError }) => ({ id, inflight, healthy, lastError })),
    }),
  );
  // What the status page (/status on the admin listener) polls: queue tree, queriers, cache outcomes, async jobs.
  admin.get("/debug/status", async (c) => {
    const outcomes = new Map((await metrics.cacheOutcomes.get()).values.map((v) => [v.labels.outcome, v.value]));
    // Real querier time of the tenants in the tree (the tree itself holds the fair queue's charges).
    const active = new Set(queue instanceof FairQueue ? queue.queuedByTenant().map((t) => t.tenant) : []);
    const querierMs = (await metrics.querierTime.get()).values
      .filter((v) => active.has(String(v.labels.user)))
      .map((v) => [String(v.labels.user), Math.round(v.value * 1000)]);
    const running = jobs.list();
    const states: Record<string, number> = {};
    for (const r of running) states[r.state] = (states[r.state] ?? 0) + 1;
    return c.json(
      {
        time: new Date().toISOString(),
        queue: queueSnapshot(),
        // [tenant, ms] pairs: tenant names are untrusted, so they never become object keys.
        querierMsByTenant: querierMs,
        queriers: pool.queriers.map(({ url, healthy, inflight, maxConcurrent, failures, lastError }) => ({
          url,
          healthy,
          inflight,
          maxConcurrent,
          failures,
          lastError: lastError ?? null,
        })),
        cache: {
          hits: outcomes.get("hit") ?? 0,
          partial: outcomes.get("partial") ?? 0,
          misses: outcomes.get("miss") ?? 0,
        },
        async: {
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
        },
      },
      200,
      { "cache-control": "no-store" },
    );
  });
  return {
    app,
    jobs,
    pool,
    cache,
    queue,
    metrics,
    admin,
    close: () => {
      jobs.close();
      pool.close();
      void cache.close();
    },
  };
}

const answerResponse = (a: Answer) =>
  new Response(a.body, { status: a.status, headers: { "content-type": a.contentType } });

const iso = (ms?: number) => (ms === undefined ? undefined : new Date(ms).toISOString());
const statusOf = (r: JobRecord) => ({
  state: r.state,
  progress: r.progress,
  submittedAt: iso(r.submittedAt),
  startedAt: iso(r.startedAt),
  finishedAt: iso(r.finishedAt),
  expiresAt: iso(r.expiresAt),
  ...(r.error ? { error: r.error } : {}),
});

export function fairQueue(config: FrontendConfig): FairQueue<Job> {
  const q = config.queue;
  return new FairQueue<Job>({
    policy: q.policy,
    tenantPolicy: q.tenant_policy,
    maxLevels: q.max_queue_hierarchy_levels,
    maxOutstandingPerTenant: q.max_outstanding_requests_per_tenant,
    maxOutstandingPerActor: q.max_outstanding_requests_per_actor,
    maxQueriersPerTenant: q.max_queriers_per_tenant,
    querierIds: config.queriers.map((x) => x.url),
    activationCreditMs: q.activation_credit,
    weight: (tenant, path) => {
      const joined = path.join("|");
      return q.weights.find((w) => (w.tenant === undefined || w.tenant === tenant) && w.path === joined)?.weight ?? 1;
    },
  });
}
