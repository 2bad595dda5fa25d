import { setMaxListeners } from "node:events";
import type { Limits } from "../../config/schema.js";
import { rangesFor } from "../pipeline/split.js";
import type { Handler, Middleware, QueryContext, QueryRequest, QueryResponse } from "../types.js";
import { planLogQL } from "./logql.js";
import { CannotMerge, type Body, mergeShards } from "./merge.js";
import type { Planned } from "./plan.js";
import { planPromQL } from "./promql.js";

export type QuerierKind = "prometheus" | "mimir" | "loki";

/** Told once per range query: how many shard queries it became (0: none), and why not. */
export type ShardReport = (shards: number, reason?: string) => void;

/** How many shards a query gets: the tenant's count, within max_sharded_queries once split (Loki: a power of 2). */
export function shardCount(limits: Limits, splits: number, kind: QuerierKind): number | string {
  const total = limits.query_sharding_total_shards;
  if (total < 2) return "sharding off";
  let n = Math.min(total, Math.floor(limits.query_sharding_max_sharded_queries / Math.max(1, splits)));
  if (kind === "loki") n = 2 ** Math.floor(Math.log2(Math.max(1, n)));
  return n < 2 ? "splits × shards over max_sharded_queries" : n;
}

function plan(req: QueryRequest, kind: QuerierKind, limits: Limits): Planned {
  const opts = { maxRegexpBytes: limits.query_sharding_max_regexp_size_bytes };
  if (req.api === "prometheus" && kind === "mimir") return planPromQL(req.query ?? "", opts);
  if (req.api === "loki" && kind === "loki") {
    if (req.params.shards !== undefined) return { reason: "already sharded" };
    return planLogQL(req.query ?? "", opts);
  }
  return { reason: `${kind} queriers` };
}

/**
 * Query sharding, before the split: a range query the planner can cut becomes N shard queries per
 * leg, each an ordinary query for the rest of the pipeline (split, results cache under its own key,
 * fair queue under the query's actor, retries, cancellation), and their answers are merged exactly.
 * The pieces of all shards together keep to the query's max_query_parallelism.
 */
export const shard =
  (kind: QuerierKind, report: ShardReport = () => {}): Middleware =>
  (next) =>
  async (req, ctx) => {
    if (req.kind !== "metric" && req.kind !== "log") return next(req, ctx);
    const splits = rangesFor(req, ctx).length;
    const n = shardCount(ctx.limits, splits, kind);
    const planned: Planned = typeof n === "string" ? { reason: n } : plan(req, kind, ctx.limits);
    if (typeof n === "string" || "reason" in planned) {
      const reason = "reason" in planned ? planned.reason : String(n);
      return whole(req, ctx, next, report, reason);
    }
    const { legs, merge } = planned.plan;
    const pieces = legs.flatMap((leg) =>
      Array.from({ length: n }, (_, i) => {
        const { query, params } = leg(i, n);
        return { ...req, query, params: { ...req.params, ...params } };
      }),
    );
    const answers = await runAll(pieces, next, ctx);
    if (!Array.isArray(answers)) return answers;
    try {
      const bodies = answers.map((a) => a.json as Body);
      const byLeg = legs.map((_, l) => bodies.slice(l * n, (l + 1) * n));
      const json = mergeShards(merge, byLeg, { limit: req.limit ?? 100, direction: req.direction ?? "backward" });
      ctx.stats.shards = pieces.length;
      report(pieces.length);
      return { status: 200, contentType: answers[0]!.contentType, json };
    } catch (e) {
      if (!(e instanceof CannotMerge)) throw e;
      return whole(req, ctx, next, report, e.message);
    }
  };

function whole(req: QueryRequest, ctx: QueryContext, next: Handler, report: ShardReport, reason: string) {
  ctx.stats.shards = 0;
  ctx.stats.notSharded = reason;
  report(0, reason);
  return next(req, ctx);
}

/**
 * Runs every shard query at once; each gets an even part of max_query_parallelism for its splits.
 * The first failed shard fails the query with its own answer and cancels the others.
 */
async function runAll(
  pieces: QueryRequest[],
  next: Handler,
  ctx: QueryContext,
): Promise<QueryResponse[] | QueryResponse> {
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  if (ctx.signal.aborted) throw ctx.signal.reason;
  const onAbort = () => stop.abort(ctx.signal.reason);
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  const parallelism = Math.max(1, Math.floor(ctx.limits.max_query_parallelism / pieces.length));
  const progress: [number, number][] = pieces.map(() => [0, 1]);
  const sub: QueryContext = {
    ...ctx,
    signal: stop.signal,
    limits: { ...ctx.limits, max_query_parallelism: parallelism },
  };
  try {
    let failed: QueryResponse | undefined;
    const answers = await Promise.all(
      pieces.map((p, i) =>
        next(p, {
          ...sub,
          progress: ctx.progress
            ? (done, total) => {
                progress[i] = [done, total];
                const sum = (k: 0 | 1) => progress.reduce((n, p) => n + p[k], 0);
                ctx.progress!(sum(0), sum(1));
              }
            : undefined,
        }).then(
          (res) => {
            if ((res.status < 200 || res.status >= 300) && !failed) {
              failed = res;
              stop.abort(new Error("a shard failed"));
            }
            return res;
          },
          (e: unknown) => {
            if (failed) return failed; // cancelled because a sibling failed
            stop.abort(e);
            throw e;
          },
        ),
      ),
    );
    return failed ?? answers;
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
  }
}
