import type { Api, QueryResponse, QueryStats } from "../types.js";

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

/** The body a client gets for a pipeline answer (Loki answers carry this query's cache stats). */
export function bodyOf(res: QueryResponse, stats: QueryStats, api: Api): string | Uint8Array | undefined {
  if (api === "loki" && res.json !== undefined) lokiCacheStats(res.json, stats);
  return res.json !== undefined ? JSON.stringify(res.json) : res.raw;
}

/** hit, partial or miss for the whole query; undefined when no piece went through a cache. */
export const cacheOutcome = (c: QueryStats["cache"]) =>
  c.hit + c.partial + c.miss === 0 ? undefined : c.partial || (c.hit && c.miss) ? "partial" : c.hit ? "hit" : "miss";

/** The HTTP response for a pipeline answer, with headers telling where the time went and what the cache did. */
export function encode(res: QueryResponse, stats: QueryStats, api: Api): Response {
  const body = bodyOf(res, stats, api);
  const outcome = cacheOutcome(stats.cache);
  const cacheTiming = outcome ? `, cache;desc=${outcome}` : "";
  const headers: Record<string, string> = {
    "content-type": res.contentType,
    // Where the time went, for the browser's network panel and for people reading curl -i.
    "server-timing": `queue;dur=${stats.queueWaitMs}, querier;dur=${stats.querierMs}${cacheTiming}`,
    "x-fairgate-splits": String(stats.splits),
  };
  if (outcome) headers["x-fairgate-cache"] = outcome;
  return new Response(body as BodyInit, { status: res.status, headers });
}
