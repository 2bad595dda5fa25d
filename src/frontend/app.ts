import { Hono } from "hono";
import type { RoutesConfig } from "../config/routes.js";
import type { FrontendConfig } from "../config/schema.js";
import { ApiError, errorResponse, unexpected } from "../http/errors.js";
import type { ActorDirectory } from "../observability/actor-directory.js";
import { frontendAdmin } from "../observability/frontend-admin.js";
import { FrontendMetrics, type FrontendSources } from "../observability/metrics.js";
import { codecs } from "./api/codecs.js";
import { AsyncJobs } from "./async/jobs.js";
import { buildJobStore } from "./async/build.js";
import { asyncRoutes } from "./async/routes.js";
import { buildCache } from "./cache/build.js";
import type { Cache } from "./cache/cache.js";
import { cacheReports } from "./cache/reports.js";
import { StoredValues } from "./cache/stored.js";
import { ReplicaSet } from "./replicas/replica-set.js";
import { type SubQuery, QuerierPool } from "./dispatch/pool.js";
import { routesSchema } from "../config/routes.js";
import { type FrontendEnv, type IdentityVerifier, requireIdentity } from "./require-identity.js";
import { limitsFor } from "./limits.js";
import { answerCached } from "./pipeline/answer-cache.js";
import { answerCache, queryPipeline } from "./pipeline/pipeline.js";
import { queryGuard } from "./pipeline/query-guard.js";
import { queryRoutes, runJob } from "./query-routes.js";
import { fairQueue } from "./queue/configured.js";
import { FairQueue } from "./queue/fair-queue.js";
import { ObservedQueue } from "./queue/observed.js";
import type { RequestQueue } from "./queue/queue.js";
import { routeGuard } from "./route-guard.js";
import { fallbackLog } from "../observability/log.js";

/** How long closing may wait for the async store and the cache. */
const CLOSE_MS = 3000;

export interface FrontendDeps {
  verifyIdentity?: IdentityVerifier;
  /** The route policy (the config's top-level routes section); defaults when omitted. */
  routes?: RoutesConfig;
  queue?: RequestQueue<SubQuery>;
  /** Replaces the configured cache backend (tests). */
  cache?: Cache;
  /** Hash for results cache keys (tests force collisions with it). */
  cacheKeyHash?: (full: string) => string;
  now?: () => number;
  log?: (line: string) => void;
  /** Told what each query did (for logs and metrics). */
  observe?: (fields: Record<string, unknown>) => void;
  /** How long the status page keeps an actor, tenant or querier after its last sub-query (ms). */
  recentMs?: number;
  /** How queriers are reached; the global fetch by default. */
  querierFetch?: typeof fetch;
  /** The config in force, whose per-tenant sections a runtime file may replace (runtime_config); `config` if not. */
  live?: () => FrontendConfig;
  /** Writes "query stats" lines (frontend.log_queries_longer_than). */
  logQueryStats?: (line: Record<string, unknown>) => void;
  /** The actor directory (status.actor_directory), when on: fed by each query's identity, read on the admin listener. */
  directory?: ActorDirectory;
}

export interface Frontend {
  app: Hono<FrontendEnv>;
  jobs: AsyncJobs;
  pool: QuerierPool;
  cache: Cache;
  queue: RequestQueue<SubQuery>;
  metrics: FrontendMetrics;
  /** This replica among several (frontend.membership); undefined when it runs alone. */
  replicas?: ReplicaSet;
  /** Routes for operators (metrics, queue snapshot, the status page's data), served on the admin listener. */
  admin: Hono;
  /** Draining begins: with several replicas, this one leaves the membership and takes no new sub-queries. */
  drain(): Promise<void>;
  /** Stops the pool; hands running async jobs back and closes the stores (at most a few seconds). */
  close(): Promise<void>;
}

/**
 * The query frontend: its parts wired together. The routes live with what they serve: the query
 * APIs in query-routes.ts, the asynchronous API in async/, the operators' data in observability/.
 */
export function createFrontend(config: FrontendConfig, deps: FrontendDeps = {}): Frontend {
  const live = deps.live ?? (() => config);
  const metrics = new FrontendMetrics(deps.recentMs, config.top_actors);
  const inner = deps.queue ?? fairQueue(config);
  // The status page watches what passes through the queue; the queue alone decides.
  const queue = new ObservedQueue(inner, metrics.usage);
  const log = deps.log ?? fallbackLog;
  const pool = new QuerierPool(config, queue, codecs, metrics, deps.querierFetch, log);
  const cache = deps.cache ?? configuredCache(config, metrics, log);
  const store = new StoredValues(cache, maxItemBytes(config));
  const routes = deps.routes ?? routesSchema.parse(undefined);
  // A sub-query's parameters come from a client's body: twice the read limit leaves room for the rest of a call.
  const replicas = config.membership
    ? new ReplicaSet({ ...config, membership: config.membership }, pool, {
        log,
        maxBodyBytes: 2 * routes.read.max_body_bytes + 65_536,
        live,
      })
    : undefined;
  const pipeline = queryPipeline(config, store, replicas?.dispatch ?? pool.dispatch, {
    ...deps,
    heldPieces: (delta) => void (metrics.heldPieces += delta),
    shards: (n, reason) => metrics.countShards(n, reason),
  });
  const answers = answerCache(config, store, deps);
  // Blocked queries and the limits fairgate checks itself come first: a cached answer is refused the same.
  const guard = queryGuard({
    blocked: (tenant, reason) => metrics.blockedQueries.inc({ tenant, reason }),
    now: deps.now,
  });
  const answered = guard(answers ? answerCached(answers)(pipeline) : pipeline);
  const jobs = new AsyncJobs(
    buildJobStore(config.async, log),
    config.async,
    runJob(config, guard(pipeline), live),
    {
      finished: (state) => metrics.asyncFinished.inc({ state }),
      log,
    },
    deps.now,
  );
  metrics.sources = { ...sources(inner, pool, jobs), cluster: replicas && (() => replicas.view()) };

  const app = new Hono<FrontendEnv>();
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/ready", (c) => {
    const reason = pool.notReady();
    return reason ? c.text(`not ready: ${reason}\n`, 503) : c.text("ready\n");
  });
  // Replicas' calls to each other: outside the route policy (no client route leads here), and authenticated by
  // their own signature instead of an identity.
  if (replicas) app.route("/", replicas.routes);
  app.use("*", routeGuard(deps.routes));
  app.use("*", requireIdentity(deps.verifyIdentity));
  asyncRoutes(app, jobs);
  queryRoutes(app, {
    config,
    live,
    answered,
    jobs,
    metrics,
    observe: deps.observe,
    maxBodyBytes: deps.routes?.read.max_body_bytes,
    logQueryStats: deps.logQueryStats,
    directory: deps.directory,
  });
  app.all("*", (c) => {
    throw new ApiError("not_found", `no route ${c.req.path}`);
  });
  app.onError((err, c) => {
    if (err instanceof ApiError) {
      // A refusal fairgate decided says why in its request's log line.
      if (err.status >= 400 && err.status < 500) deps.observe?.({ reason: err.message });
      return errorResponse(err, c.req.path);
    }
    log(`frontend: unexpected error on ${c.req.method} ${c.req.path}: ${unexpected(err)}`);
    return errorResponse(new ApiError("internal", "internal error in the query frontend"), c.req.path);
  });

  const close = async () => {
    pool.close();
    // A store that cannot be reached (NATS down) must not hold the process: its jobs are re-run elsewhere.
    const bounded = (p: Promise<unknown>) =>
      Promise.race([
        p.catch((e: unknown) => log(`frontend: closing: ${String(e)}`)),
        new Promise((r) => setTimeout(r, CLOSE_MS).unref?.()),
      ]);
    await Promise.all([bounded(jobs.close()), bounded(cache.close()), bounded(replicas?.close() ?? Promise.resolve())]);
  };
  return {
    app,
    jobs,
    pool,
    cache,
    queue,
    metrics,
    replicas,
    drain: async () => replicas?.drain(),
    admin: frontendAdmin(metrics, { maxQueryParallelism: limitsFor(config, []).max_query_parallelism }, deps.directory),
    close,
  };
}

/** What the metrics and the operators' routes read at scrape time. */
function sources(queue: RequestQueue<SubQuery>, pool: QuerierPool, jobs: AsyncJobs): FrontendSources {
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
  return buildCache(config.cache, cacheReports(config.cache, metrics, log));
}

const maxItemBytes = (config: FrontendConfig) =>
  config.cache.backend === "memcached" ? config.cache.memcached!.max_item_bytes : config.cache.memory_max_bytes;
