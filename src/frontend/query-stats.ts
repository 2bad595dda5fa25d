import { routeLabel } from "../observability/requests.js";
import type { QueryContext, QueryRequest } from "./types.js";

/**
 * Loki's query hash (its logs' query_hash: FNV-1, 32 bits, of the query text's bytes; not FNV-1a, as checked on Loki
 * 3.4.6), so a line here and Loki's own lines about the same query carry the same number.
 */
export function queryHash(query: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(query)) h = Math.imul(h, 0x01000193) ^ byte;
  return h >>> 0;
}

/**
 * The "query stats" log line of one query (frontend.log_queries_longer_than): who asked (tenant, actor path), what
 * (route, query hash) and what it cost: querier time, queue wait, splits, cache, and what the queriers read when
 * they say (Loki's processed bytes and lines). Never the query text: it may hold what the user searched for.
 */
export function queryStatsLine(req: QueryRequest, ctx: QueryContext, status: number, durationMs: number) {
  const { stats } = ctx;
  return {
    tenant: ctx.identity.tenants.join("|"),
    actor: ctx.identity.actorPath,
    route: routeLabel(req.path),
    ...(req.query === undefined ? {} : { query_hash: queryHash(req.query) }),
    status,
    duration_ms: Math.round(durationMs),
    querier_ms: Math.round(stats.querierMs),
    queue_wait_ms: Math.round(stats.queueWaitMs),
    splits: stats.splits,
    cache_hits: stats.cache.hit,
    cache_partial: stats.cache.partial,
    cache_misses: stats.cache.miss,
    retries: stats.retries,
    ...(stats.processed ? { processed_bytes: stats.processed.bytes, processed_lines: stats.processed.lines } : {}),
  };
}
