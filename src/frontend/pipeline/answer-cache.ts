import { msToNs } from "../api/time.js";
import { hashKey, type StoredValues } from "../cache/stored.js";
import { NS_PER_MS, type Middleware, type QueryContext, type QueryRequest } from "../types.js";
import { noCache, readsRecentData } from "./results-cache.js";

/**
 * Whole encoded answers of Prometheus range queries that end before the freshness line. An exact
 * repeat — a dashboard reloaded — then skips splitting, extents and JSON altogether. The answer can
 * no longer change, for the same reason the extents it was built from cannot. (Loki answers carry
 * per-execution stats, so they are always assembled from extents.)
 */
export class AnswerCache {
  constructor(
    readonly store: StoredValues,
    readonly ttlSeconds: number,
    readonly now: () => number = Date.now,
    /** Hash of the full key (tests force collisions with it). */
    readonly hash: (full: string) => string = (full) => hashKey("qa", full),
  ) {}

  /** The full key, or undefined when this request's answer may not be kept. */
  keyFor(req: QueryRequest, ctx: QueryContext): string | undefined {
    if (req.api !== "prometheus" || req.kind !== "metric" || noCache(ctx)) return undefined;
    const freshLine = BigInt(Math.floor(this.now())) * NS_PER_MS - msToNs(ctx.limits.max_cache_freshness);
    if (req.endNs > freshLine || readsRecentData(req.query ?? "", freshLine)) return undefined;
    const params = Object.entries(req.params).sort(([a], [b]) => (a < b ? -1 : 1));
    return JSON.stringify([
      "answer",
      [...ctx.identity.tenants].sort(),
      req.path,
      req.query,
      req.startNs.toString(),
      req.endNs.toString(),
      req.stepMs,
      ctx.limits.align_queries_with_step,
      params,
    ]);
  }

  /** The stored body, after checking the full key stored with it (a hash collision is a miss). */
  async get(full: string): Promise<Buffer | undefined> {
    const got = await this.store.getBytes(this.hash(full));
    if (!got) return undefined;
    const nl = got.value.indexOf(10);
    if (nl < 0 || got.value.subarray(0, nl).toString() !== full) return undefined;
    return got.value.subarray(nl + 1);
  }

  async put(full: string, body: string): Promise<void> {
    await this.store.putBytes(this.hash(full), Buffer.from(`${full}\n${body}`), this.ttlSeconds);
  }
}

/**
 * Serves synchronous queries from the answer cache, and keeps their successful answers in it. An
 * asynchronous job's answer is stored with the job instead, so jobs run the pipeline without this.
 */
export const answerCached =
  (answers: AnswerCache): Middleware =>
  (next) =>
  async (req, ctx) => {
    const key = answers.keyFor(req, ctx);
    if (!key) return next(req, ctx);
    const kept = await answers.get(key);
    if (kept) {
      ctx.stats.cache.hit = 1;
      return { status: 200, contentType: "application/json", raw: new Uint8Array(kept) };
    }
    const res = await next(req, ctx);
    const success = res.status === 200 && (res.json as { status?: string } | undefined)?.status === "success";
    if (!success || ctx.stats.cache.noStore) return res;
    // Kept before answering, so the next identical request (often the next dashboard viewer) finds it.
    const body = JSON.stringify(res.json);
    await answers.put(key, body);
    return { ...res, json: undefined, raw: new TextEncoder().encode(body) };
  };
