import { setMaxListeners } from "node:events";
import { msToNs } from "../api/time.js";
import type { Handler, Middleware, QueryContext, QueryRequest, QueryResponse } from "../types.js";
import { floorDiv, intervalSplits, metricSplits, type Range } from "./intervals.js";

export type Merge = (req: QueryRequest, parts: QueryResponse[]) => QueryResponse;

/** The time ranges `split` cuts a request into (exported: the shard count depends on how many there are). */
export function rangesFor(req: QueryRequest, ctx: QueryContext): Range[] {
  const l = ctx.limits;
  // An interval that would cut the range into more than max_splits_per_query pieces grows by whole
  // multiples, so boundaries stay on the configured grid.
  const max = BigInt(l.max_splits_per_query);
  const pieces = (interval: bigint) => floorDiv(req.endNs - 1n, interval) - floorDiv(req.startNs, interval) + 1n;
  const ms = (v: number) => {
    const base = msToNs(v);
    if (base <= 0n) return base;
    let interval = base;
    for (let k = 2n; pieces(interval) > max; k *= 2n) interval = base * k;
    return interval;
  };
  switch (req.kind) {
    case "metric":
      return metricSplits(req.startNs, req.endNs, msToNs(req.stepMs ?? 0), ms(l.split_metric_queries_by_interval));
    case "log":
      return intervalSplits(req.startNs, req.endNs, ms(l.split_log_queries_by_interval));
    case "metadata":
    case "stats":
    case "volume":
      return intervalSplits(req.startNs, req.endNs, ms(l.split_metadata_queries_by_interval));
    default:
      return [{ startNs: req.startNs, endNs: req.endNs }];
  }
}

const entriesIn = (r: QueryResponse): number =>
  ((r.json as { data?: { result?: { values?: unknown[] }[] } })?.data?.result ?? []).reduce(
    (n, s) => n + (s.values?.length ?? 0),
    0,
  );

/**
 * Splits a query by time, runs the pieces through the rest of the pipeline with at most
 * `max_query_parallelism` in flight, and merges them. Log queries walk their pieces in direction
 * order and stop once `limit` entries have arrived: later pieces could not make the cut. The first
 * failed piece fails the query with its own status and body, and stops the others.
 */
export const split =
  (merge: Merge, held?: HeldPieces): Middleware =>
  (next) =>
  async (req, ctx) => {
    const ranges = rangesFor(req, ctx);
    ctx.stats.splits += ranges.length;
    ctx.progress?.(0, ranges.length);
    if (ranges.length === 1) {
      const only = await next({ ...req, ...ranges[0]! }, ctx);
      ctx.progress?.(1, 1);
      return merge(req, [only]);
    }

    const pieces = ranges.map((r) => ({ ...req, ...r }));
    if (req.kind === "log" && req.direction === "backward") pieces.reverse();
    const enough = req.kind === "log" && req.limit !== undefined ? (n: number) => n >= req.limit! : () => false;
    const parts = await runInOrder(pieces, next, ctx, enough, held);
    if (!Array.isArray(parts)) return parts; // a failed piece
    if (req.kind === "log" && req.direction === "backward") parts.reverse();
    return merge(req, parts);
  };

/** Told how many pieces wait inside their query for a turn under max_query_parallelism (the status page). */
export type HeldPieces = (delta: number) => void;

/** Runs pieces with bounded parallelism; resolves with the answers of the in-order prefix that was needed. */
async function runInOrder(
  pieces: QueryRequest[],
  next: Handler,
  ctx: QueryContext,
  enough: (entries: number) => boolean,
  held: HeldPieces = () => {},
): Promise<QueryResponse[] | QueryResponse> {
  const stop = new AbortController();
  // Every piece (pool, fetch) listens on this one signal: a query of many pieces is expected to.
  setMaxListeners(0, stop.signal);
  const onAbort = () => stop.abort(ctx.signal.reason);
  if (ctx.signal.aborted) throw ctx.signal.reason;
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  const sub: QueryContext = { ...ctx, signal: stop.signal };
  const results: (QueryResponse | undefined)[] = new Array(pieces.length);
  let started = 0;
  let done = 0; // length of the completed in-order prefix
  let entries = 0;
  let finished = false;
  let holding = 0; // pieces not started yet, as last told to `held`
  const tell = () => {
    const now = finished ? 0 : pieces.length - started;
    if (now !== holding) held(now - holding);
    holding = now;
  };

  try {
    return await new Promise<QueryResponse[] | QueryResponse>((resolve, reject) => {
      const settle = (v: QueryResponse[] | QueryResponse | Error) => {
        if (finished) return;
        finished = true;
        stop.abort(new Error("split query finished"));
        v instanceof Error ? reject(v) : resolve(v);
      };
      const launch = () => {
        while (!finished && started < pieces.length && started - done < ctx.limits.max_query_parallelism) {
          const i = started++;
          next(pieces[i]!, sub).then(
            (res) => {
              if (finished) return;
              if (res.status < 200 || res.status >= 300) return settle(res);
              results[i] = res;
              ctx.progress?.(results.filter(Boolean).length, pieces.length);
              while (done < pieces.length && results[done]) entries += entriesIn(results[done++]!);
              if (done === pieces.length || enough(entries)) return settle(results.slice(0, done) as QueryResponse[]);
              launch();
            },
            (e: unknown) => settle(e instanceof Error ? e : new Error(String(e))),
          );
        }
        tell();
      };
      launch();
    });
  } finally {
    finished = true;
    tell();
    ctx.signal.removeEventListener("abort", onAbort);
  }
}
