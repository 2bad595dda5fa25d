import type { Processed, QueryResponse } from "../types.js";

/**
 * The querier time one answer cost, from what Loki says about it. fairgate charges an actor the
 * querier time its sub-queries used; the wall time it sees includes any wait in the querier's own
 * queue. In front of Loki's read path (query-frontend and scheduler), that wait is spent behind other
 * actors' sub-queries: a cheap query waiting behind an expensive one would be charged like it.
 *
 * Loki's answer reports `stats.summary.queueTime` (summed over the sub-queries it ran) and how many it
 * ran (`splits`, `shards`). When it ran the piece as one sub-query, the wait is one interval and the
 * rest of the wall time is execution: that is charged. When it fanned the piece out, its sub-queries'
 * waits overlap each other's execution and cannot be subtracted: the wall time is kept.
 *
 * A querier serving the API itself (no Loki frontend or scheduler in between) reports no wait at all and its own
 * execution time (`execTime`): that is charged. On a busy querier host the wall time of a cheap sub-query is mostly
 * waiting for a core that other actors' sub-queries hold, and charging it would bill the cheap actor for their work.
 */
export function lokiQuerierTimeMs(res: QueryResponse, wallMs: number): number {
  const summary = lokiSummary(res);
  if (!summary) return wallMs;
  const { queueTime, splits, shards } = summary;
  if (typeof queueTime !== "number" || !(queueTime >= 0)) return wallMs;
  if (Math.max(Number(splits) || 0, Number(shards) || 0) > 1) return wallMs;
  const { execTime } = summary;
  if (queueTime === 0 && typeof execTime === "number" && execTime >= 0)
    return Math.max(Math.min(1, wallMs), Math.min(wallMs, execTime * 1000));
  // At least a millisecond: a sub-query is never free, whatever the two clocks say.
  return Math.max(Math.min(1, wallMs), Math.min(wallMs, wallMs - queueTime * 1000));
}

const lokiSummary = (res: QueryResponse) =>
  (res.json as { data?: { stats?: { summary?: Record<string, unknown> } } } | undefined)?.data?.stats?.summary;

/** The bytes and lines Loki says it processed for one answer (stats.summary), for the query-stats log line. */
export function lokiProcessed(res: QueryResponse): Processed | undefined {
  const summary = lokiSummary(res);
  const bytes = summary?.totalBytesProcessed;
  const lines = summary?.totalLinesProcessed;
  if (typeof bytes !== "number" || typeof lines !== "number") return undefined;
  return { bytes, lines };
}
