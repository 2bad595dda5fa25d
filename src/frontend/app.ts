import { Hono } from "hono";
import type { RoutesConfig } from "../config/routes.js";
import type { FrontendConfig } from "../config/schema.js";
import { ApiError, errorResponse } from "../http/errors.js";
import { frontendAdmin } from "../observability/frontend-admin.js";
import { FrontendMetrics, type FrontendSources } from "../observability/metrics.js";
import { codecs } from "./api/codecs.js";
import { AsyncJobs } from "./async/jobs.js";
import { asyncRoutes } from "./async/routes.js";
import { buildCache } from "./cache/build.js";
import type { Cache } from "./cache/cache.js";
import { StoredValues } from "./cache/stored.js";
import { type Job, QuerierPool } from "./dispatch/pool.js";
import { type FrontendEnv, type IdentityVerifier, requireIdentity } from "./identity.js";
import { answerCached } from "./pipeline/answer-cache.js";
import { answerCache, queryPipeline } from "./pipeline/pipeline.js";
import { queryRoutes } from "./query-routes.js";
import { fairQueue } from "./queue/configured.js";
import { FairQueue } from "./queue/fair-queue.js";
import type { RequestQueue } from "./queue/queue.js";
import { routeGuard } from "./route-guard.js";

export interface FrontendDeps {
  verifyIdentity?: IdentityVerifier;
  /** The route policy (the config's top-level routes section); defaults when omitted. */
  routes?: RoutesConfig;
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
  app: Hono<FrontendEnv>;
  jobs: AsyncJobs;
  pool: QuerierPool;
  cache: Cache;
  queue: RequestQueue<Job>;
  metrics: FrontendMetrics;
  /** Routes for operators (metrics, queue snapshot, the status page's data), served on the admin listener. */
  admin: Hono;
  close(): void;
}

/**
 * The query frontend: its parts wired together. The routes live with what they serve: the query
 * APIs in query-routes.ts, the asynchronous API in async/, the operators' data in observability/.
 */
export function createFrontend(config: FrontendConfig, deps: FrontendDeps = {}): Frontend {
  const metrics = new FrontendMetrics();
  const queue = deps.queue ?? fairQueue(config);
  const pool = new QuerierPool(config, queue, codecs, metrics);
  const cache = deps.cache ?? configuredCache(config, metrics, deps.log ?? ((line) => console.error(line)));
  const store = new StoredValues(cache, maxItemBytes(config));
  const jobs = new AsyncJobs(store, config.async, deps.now, (state) => metrics.asyncFinished.inc({ state }));
  metrics.sources = sources(queue, pool, jobs);
  const pipeline = queryPipeline(config, store, pool.dispatch, deps);
  const answers = answerCache(config, store, deps);
  const answered = answers ? answerCached(answers)(pipeline) : pipeline;

  const app = new Hono<FrontendEnv>();
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/ready", (c) => {
    const reason = pool.notReady();
    return reason ? c.text(`not ready: ${reason}\n`, 503) : c.text("ready\n");
  });
  app.use("*", routeGuard(deps.routes));
  app.use("*", requireIdentity(deps.verifyIdentity));
  asyncRoutes(app, jobs);
  queryRoutes(app, { config, pipeline, answered, jobs, metrics, observe: deps.observe });
  app.all("*", (c) => {
    throw new ApiError("not_found", `no route ${c.req.path}`);
  });
  app.onError((err, c) => {
    if (err instanceof ApiError) return errorResponse(err, c.req.path);
    console.error("frontend: unexpected error", err);
    return errorResponse(new ApiError("internal", "internal error in the query frontend"), c.req.path);
  });

  const close = () => {
    jobs.close();
    pool.close();
    void cache.close();
  };
  return { app, jobs, pool, cache, queue, metrics, admin: frontendAdmin(metrics), close };
}

/** What the metrics and the operators' routes read at scrape time. */
function sources(queue: RequestQueue<Job>, pool: QuerierPool, jobs: AsyncJobs): FrontendSources {
  return {
    queuedByTenant: () =>
      queue instanceof FairQueue ? queue.queuedByTenant() : [{ tenant: "", queued: queue.length }],
    queueSnapshot: () => (queue instanceof FairQueue ? queue.snapshot() : { queued: queue.length }),
    queriers: () => pool.queriers,
    asyncJobs: () => jobs.list(),
  };
}

/** The configured cache backend, reporting its errors, skips and outages. */
function configuredCache(config: FrontendConfig, metrics: FrontendMetrics, log: (line: string) => void): Cache {
  const cooldown = config.cache.memcached?.breaker_cooldown ?? 0;
  return buildCache(config.cache, {
    error: (op) => metrics.cacheErrors.inc({ op }),
    // Logged once per outage, not per request: the breaker turns a dead memcached into one line.
    state: (open) => {
      metrics.cacheBypassed.set(open ? 1 : 0);
      log(
        open
          ? `cache: memcached is failing; bypassing it for ${cooldown} ms at a time (queries go on uncached)`
          : "cache: memcached is back",
      );
    },
    skipped: () => metrics.cacheSkipped.inc({ reason: "too_large" }),
  });
}

const maxItemBytes = (config: FrontendConfig) =>
  config.cache.backend === "memcached" ? config.cache.memcached!.max_item_bytes : config.cache.memory_max_bytes;
