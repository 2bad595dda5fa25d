import type { Context, Hono } from "hono";
import type { FrontendConfig, Limits } from "../config/schema.js";
import { ApiError } from "../http/errors.js";
import type { Identity } from "../identity/signed-identity.js";
import type { FrontendMetrics } from "../observability/metrics.js";
import { codecs } from "./api/codecs.js";
import { blockedRequest } from "./blocked.js";
import { bodyOf, cacheOutcome, encode } from "./api/encode.js";
import { readParams, without } from "./api/params.js";
import type { AsyncJobs } from "./async/jobs.js";
import type { JobSpec } from "./async/record.js";
import { submitAsync, wantsAsync } from "./async/routes.js";
import type { RunJob } from "./async/job-workers.js";
import { querierHeaders } from "./dispatch/headers.js";
import type { FrontendEnv } from "./require-identity.js";
import { limitsFor } from "./limits.js";
import { queryStatsLine } from "./query-stats.js";
import type { ActorDirectory } from "../observability/actor-directory.js";
import { type Api, emptyCacheStats, type Handler, type QueryContext, type QueryRequest } from "./types.js";

export interface QueryDeps {
  config: FrontendConfig;
  /** The config in force, whose limits a runtime file may replace: each query reads it once, when it comes. */
  live: () => FrontendConfig;
  /** The pipeline synchronous queries run: the jobs' pipeline, behind the answer cache when there is one. */
  answered: Handler;
  jobs: AsyncJobs;
  metrics: FrontendMetrics;
  /** Told what each query did (for logs and metrics). */
  observe?: (fields: Record<string, unknown>) => void;
  /** routes.read.max_body_bytes: the same limit the route guard applies. */
  maxBodyBytes?: number;
  /** Writes a query's "query stats" line (config.log_queries_longer_than says which queries get one). */
  logQueryStats?: (line: ReturnType<typeof queryStatsLine>) => void;
  /** The actor directory, when the operator turned it on: who each actor path stands for. */
  directory?: ActorDirectory;
}

/** The Loki and Prometheus query APIs; `async=true` hands a query to the asynchronous API. */
export function queryRoutes(app: Hono<FrontendEnv>, deps: QueryDeps): void {
  app.all("/loki/api/v1/*", serve(deps, "loki", /^\/loki\/api\/v1\//));
  app.all("/api/v1/*", serve(deps, "prometheus", /^\/api\/v1\//));
  app.all("/prometheus/api/v1/*", serve(deps, "prometheus", /^\/prometheus\/api\/v1\//));
}

const serve = (deps: QueryDeps, api: Api, prefix: RegExp) => async (c: Context<FrontendEnv>) => {
  const path = c.req.path;
  const route = path.replace(prefix, "");
  if (c.req.method !== "GET" && c.req.method !== "POST")
    throw new ApiError("method_not_allowed", `${c.req.method} is not allowed on ${path}; use GET or POST`, {
      allow: "GET, POST",
    });
  const identity = c.get("identity");
  deps.directory?.remember(identity);
  const limits = limitsFor(deps.live(), identity.tenants, { api, user: identity.limits });
  const all = await readParams(c.req.raw, deps.maxBodyBytes);
  const blocked = blockedRequest(limits.blocked_requests, { path, method: c.req.method, params: all });
  if (blocked) {
    const reason = blocked.reason ?? "blocked";
    deps.metrics.blockedQueries.inc({ tenant: identity.tenants.join("|"), reason });
    throw new ApiError("bad_data", `request blocked by policy: ${reason}`);
  }
  const params = without(all, "async", "wait");
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const req = { ...codecs[api].parse(route, params, nowNs, limits), path };
  const headers = querierHeaders(c.req.raw, identity);
  headers.delete("content-type");
  if (wantsAsync(all, route)) {
    // A job is stored (in NATS with several replicas): the actor directory's name stays out of it.
    const { who: _name, ...stored } = identity;
    const spec: JobSpec = { api, route, path, params, nowNs: String(nowNs), identity: stored, headers: [...headers] };
    return submitAsync(c, deps.jobs, deps.config.async, all, spec);
  }
  const newContext: NewContext = (signal, deadline) => queryContext(identity, headers, limits, signal, deadline);
  return answerNow(c, deps, api, req, limits, newContext);
};

/** A query context's parts that depend on the request, not on how it runs. */
type NewContext = (signal: AbortSignal, deadline: number) => QueryContext;

export function queryContext(
  identity: Identity,
  headers: Headers,
  limits: Limits,
  signal: AbortSignal,
  deadline: number,
) {
  const stats = { splits: 0, queueWaitMs: 0, querierMs: 0, retries: 0, cache: emptyCacheStats() };
  return { identity, forwardHeaders: new Headers(headers), signal, deadline, limits, stats };
}

/**
 * Runs an asynchronous query on whichever replica took it: parsed again from what the submitting
 * replica stored (same parameters, same "now"), through the pipeline with the job's own deadline.
 */
export const runJob =
  (config: FrontendConfig, pipeline: Handler, live: () => FrontendConfig = () => config): RunJob =>
  async (spec, signal, progress) => {
    const limits = limitsFor(live(), spec.identity.tenants, { api: spec.api, user: spec.identity.limits });
    const req = { ...codecs[spec.api].parse(spec.route, spec.params, BigInt(spec.nowNs), limits), path: spec.path };
    const headers = new Headers(spec.headers);
    const ctx = {
      ...queryContext(spec.identity, headers, limits, signal, Date.now() + config.async.deadline),
      progress,
    };
    const res = await pipeline(req, ctx);
    const body = bodyOf(res, ctx.stats, spec.api);
    return {
      status: res.status,
      contentType: res.contentType,
      body: typeof body === "string" ? body : new TextDecoder().decode(body),
    };
  };

/** A synchronous query, bounded by the tenant's query_timeout and by the client staying. */
async function answerNow(
  c: Context<FrontendEnv>,
  deps: QueryDeps,
  api: Api,
  req: QueryRequest,
  limits: Limits,
  newContext: NewContext,
): Promise<Response> {
  const timeout = AbortSignal.timeout(limits.query_timeout);
  const ctx = newContext(AbortSignal.any([c.req.raw.signal, timeout]), Date.now() + limits.query_timeout);
  const started = performance.now();
  let status = 500;
  try {
    const res = await deps.answered(req, ctx);
    status = res.status;
    report(deps, ctx);
    return encode(res, ctx.stats, api);
  } catch (e) {
    const err = timeout.aborted
      ? new ApiError(
          "timeout",
          `query timed out after ${limits.query_timeout / 1000}s; try a smaller time range or a larger step`,
        )
      : c.req.raw.signal.aborted
        ? new ApiError("canceled", "the client went away")
        : e;
    if (err instanceof ApiError) status = err.status;
    throw err;
  } finally {
    cost(deps, req, ctx, status, performance.now() - started);
  }
}

/** What a query cost, answered or not: the per-actor counters, and its "query stats" line when it took long enough. */
function cost(deps: QueryDeps, req: QueryRequest, ctx: QueryContext, status: number, ms: number): void {
  deps.metrics.topActors.count(ctx.identity.tenants.join("|"), ctx.identity.actorPath, ctx.stats.querierMs);
  const threshold = deps.config.log_queries_longer_than;
  if (threshold !== undefined && ms >= threshold) deps.logQueryStats?.(queryStatsLine(req, ctx, status, ms));
}

function report(deps: QueryDeps, ctx: QueryContext): void {
  deps.observe?.({
    tenant: ctx.identity.tenants.join("|"),
    actor: ctx.identity.actorPath,
    splits: ctx.stats.splits,
    shards: ctx.stats.shards,
    not_sharded: ctx.stats.notSharded,
    cache: cacheOutcome(ctx.stats.cache),
    queue_wait_ms: ctx.stats.queueWaitMs,
    querier_ms: ctx.stats.querierMs,
    retries: ctx.stats.retries,
  });
  deps.metrics.countCache(ctx.stats.cache);
}
