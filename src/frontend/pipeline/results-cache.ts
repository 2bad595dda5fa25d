import { mergeMatrix } from "../api/merge.js";
import { msToNs } from "../api/time.js";
import { gaps, mergeExtents, sliceMatrix, type Extent, type MatrixBody } from "../cache/extents.js";
import { hashKey, type StoredValues } from "../cache/stored.js";
import { NS_PER_MS, type Middleware, type QueryContext, type QueryRequest, type QueryResponse } from "../types.js";

export interface ResultsCacheOptions {
  store: StoredValues;
  ttlSeconds: number;
  minExtentMs: number;
  now?: () => number;
  /** Hash of the full key: injectable so a test can force a collision. */
  hash?: (full: string) => string;
}

interface Entry {
  /** The full key, compared on read: a hash collision can never hand out another query's data. */
  key: string;
  /** The querier's Content-Type, for answers served wholly from the cache. */
  contentType?: string;
  extents: { start: string; end: string; response: MatrixBody }[];
}

/** Caching is off for this request when the client says so. */
export const noCache = (ctx: QueryContext) =>
  /\bno-(cache|store)\b/i.test(ctx.forwardHeaders.get("cache-control") ?? "");

/**
 * `@ <time>` past the freshness line, or a negative offset, reads data that may still change.
 * (`@ start()` and `@ end()` were pinned to absolute times before splitting.)
 */
export function readsRecentData(query: string, cutoffNs: bigint): boolean {
  if (/offset\s+-/.test(query)) return true;
  // Every number literal PromQL accepts after @: decimals, exponents, hex.
  for (const m of query.matchAll(/@\s*(0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)/g)) {
    const seconds = Number(m[1]);
    if (!Number.isFinite(seconds) || BigInt(Math.round(seconds * 1000)) * NS_PER_MS > cutoffNs) return true;
  }
  return false;
}

function fullKey(req: QueryRequest, ctx: QueryContext, stepNs: bigint): string {
  const interval = msToNs(ctx.limits.split_metric_queries_by_interval);
  const params = Object.entries(req.params).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify([
    req.api,
    [...ctx.identity.tenants].sort(),
    req.path,
    req.query,
    req.stepMs,
    interval > 0n ? (req.startNs / interval).toString() : "0",
    (((req.startNs % stepNs) + stepNs) % stepNs).toString(),
    params,
  ]);
}

const isSuccess = (r: QueryResponse) =>
  r.status === 200 &&
  (r.json as MatrixBody | undefined)?.status === "success" &&
  (r.json as MatrixBody).data?.resultType === "matrix";

/**
 * The results cache for metric range queries, below the split: each piece is answered from the
 * cached extents that overlap it plus sub-queries for only the missing head, tail and gaps. Only
 * data older than `max_cache_freshness` is stored, cut on the step grid. Errors, `no-store` answers
 * and requests with `Cache-Control: no-cache`/`no-store` are never cached.
 */
export const resultsCache =
  (opts: ResultsCacheOptions): Middleware =>
  (next) =>
  async (req, ctx) => {
    if (req.kind !== "metric" || !req.stepMs || noCache(ctx)) return next(req, ctx);
    const stepNs = msToNs(req.stepMs);
    const nowNs = BigInt(Math.floor((opts.now ?? Date.now)())) * NS_PER_MS;
    const freshLine = nowNs - msToNs(ctx.limits.max_cache_freshness);
    const cutoff = freshLine < req.startNs ? undefined : req.startNs + ((freshLine - req.startNs) / stepNs) * stepNs;
    if (cutoff === undefined || readsRecentData(req.query ?? "", freshLine)) {
      ctx.stats.cache.miss++;
      return next(req, ctx);
    }

    const full = fullKey(req, ctx, stepNs);
    const key = (opts.hash ?? ((f) => hashKey("qr", f)))(full);
    const stats = ctx.stats.cache;
    stats.entriesRequested++;
    const got = await opts.store.get<Entry>(key);
    const ours = got && got.value.key === full ? got.value : undefined;
    const cached: Extent[] =
      ours?.extents.map((e) => ({ startNs: BigInt(e.start), endNs: BigInt(e.end), response: e.response })) ?? [];
    if (cached.length) {
      stats.entriesFound++;
      stats.bytesReceived += got!.bytes;
    }

    const missing = gaps(req.startNs, req.endNs, stepNs, cached);
    const fetched = await Promise.all(
      missing.map((g) => next({ ...req, startNs: g.startNs, endNs: g.endNs }, ctx).then((res) => ({ ...g, res }))),
    );
    const failed = fetched.find((f) => !isSuccess(f.res));
    if (failed) return failed.res;

    const used = cached.filter((e) => e.endNs >= req.startNs && e.startNs <= req.endNs);
    const served = used.reduce(
      (n, e) => n + ((e.endNs < req.endNs ? e.endNs : req.endNs) - (e.startNs > req.startNs ? e.startNs : req.startNs)),
      0n,
    );
    stats.queryLengthServedNs += served;
    if (missing.length === 0) stats.hit++;
    else if (used.length) stats.partial++;
    else stats.miss++;

    // Store what is old enough, unless the querier said not to.
    if (fetched.some((f) => /\bno-store\b/i.test(f.res.cacheControl ?? ""))) stats.noStore = true;
    const storable = fetched
      .filter((f) => !/\bno-store\b/i.test(f.res.cacheControl ?? "") && f.startNs <= cutoff)
      .map((f) => ({
        startNs: f.startNs,
        endNs: f.endNs < cutoff ? f.endNs : cutoff,
        response: sliceMatrix(f.res.json as MatrixBody, f.startNs, f.endNs < cutoff ? f.endNs : cutoff),
      }));
    if (storable.length) {
      const minNs = msToNs(opts.minExtentMs);
      const extents = mergeExtents([...cached, ...storable], stepNs).filter((e) => e.endNs - e.startNs >= minNs);
      if (extents.length) {
        const entry: Entry = {
          key: full,
          contentType: fetched[0]?.res.contentType ?? ours?.contentType,
          extents: extents.map((e) => ({ start: e.startNs.toString(), end: e.endNs.toString(), response: e.response })),
        };
        const { stored, bytes } = await opts.store.put(key, entry, opts.ttlSeconds);
        if (stored) {
          stats.entriesStored++;
          stats.bytesSent += bytes;
        }
      }
    }

    if (used.length === 0 && fetched.length === 1) return fetched[0]!.res;
    const parts: { startNs: bigint; body: MatrixBody }[] = [
      // An extent inside the request is used as it is; only one that reaches past it is cut.
      ...used.map((e) => ({
        startNs: e.startNs > req.startNs ? e.startNs : req.startNs,
        body:
          e.startNs >= req.startNs && e.endNs <= req.endNs
            ? e.response
            : sliceMatrix(e.response, req.startNs, req.endNs),
      })),
      ...fetched.map((f) => ({ startNs: f.startNs, body: f.res.json as MatrixBody })),
    ].sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
    return {
      status: 200,
      contentType: fetched[0]?.res.contentType ?? ours?.contentType ?? "application/json",
      json: mergeMatrix(parts.map((p) => p.body) as never),
    };
  };
