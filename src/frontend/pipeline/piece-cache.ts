import { msToNs } from "../api/time.js";
import { hashKey, type StoredValues } from "../cache/stored.js";
import { NS_PER_MS, type Middleware, type QueryRequest, type QueryResponse } from "../types.js";
import { noCache } from "./results-cache.js";

export interface PieceCacheOptions {
  store: StoredValues;
  metadata?: { ttlSeconds: number };
  emptyLogs?: { ttlSeconds: number };
  now?: () => number;
}

interface Entry {
  key: string;
  response: { status: number; contentType: string; json: unknown };
}

const isEmptyStreams = (json: unknown) => {
  const d = (json as { status?: string; data?: { resultType?: string; result?: unknown[] } })?.data;
  return (json as { status?: string })?.status === "success" && d?.resultType === "streams" && d.result?.length === 0;
};

/**
 * Whole split pieces whose answer can no longer change: labels, label values and series pieces older
 * than `max_metadata_cache_freshness`, and — as Loki does — log pieces older than
 * `max_cache_freshness` whose answer was empty (alerting and Drilldown ask those again and again).
 */
export const pieceCache =
  (opts: PieceCacheOptions): Middleware =>
  (next) =>
  async (req, ctx) => {
    const kind = req.kind === "metadata" ? opts.metadata : req.kind === "log" ? opts.emptyLogs : undefined;
    if (!kind || noCache(ctx)) return next(req, ctx);
    const nowNs = BigInt(Math.floor((opts.now ?? Date.now)())) * NS_PER_MS;
    const freshness =
      req.kind === "metadata" ? ctx.limits.max_metadata_cache_freshness : ctx.limits.max_cache_freshness;
    if (req.endNs > nowNs - msToNs(freshness)) return next(req, ctx);

    const full = JSON.stringify([
      req.api,
      [...ctx.identity.tenants].sort(),
      req.path,
      req.query ?? "",
      req.startNs.toString(),
      req.endNs.toString(),
      req.limit ?? 0,
      req.direction ?? "",
      pieceParams(req),
    ]);
    const key = hashKey("qp", full);
    const stats = ctx.stats.cache;
    stats.entriesRequested++;
    const got = await opts.store.get<Entry>(key);
    if (got && got.value.key === full) {
      stats.entriesFound++;
      stats.hit++;
      stats.bytesReceived += got.bytes;
      stats.queryLengthServedNs += req.endNs - req.startNs;
      return got.value.response as QueryResponse;
    }
    stats.miss++;
    const res = await next(req, ctx);
    const keep =
      res.status === 200 &&
      res.json !== undefined &&
      !/\bno-store\b/i.test(res.cacheControl ?? "") &&
      (req.kind === "metadata" || isEmptyStreams(res.json));
    if (keep) {
      const { stored, bytes } = await opts.store.put(
        key,
        { key: full, response: { status: res.status, contentType: res.contentType, json: res.json } },
        kind.ttlSeconds,
      );
      if (stored) {
        stats.entriesStored++;
        stats.bytesSent += bytes;
      }
    }
    return res;
  };

const pieceParams = (req: QueryRequest) => Object.entries(req.params).sort(([a], [b]) => (a < b ? -1 : 1));
