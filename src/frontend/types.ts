import type { Limits } from "../config/schema.js";
import type { Identity } from "../identity/signed-identity.js";

export type Api = "loki" | "prometheus";

/**
 * What a request asks for. Kinds decide how it is split and merged:
 * - metric: a range query evaluated at step timestamps (Prometheus query_range, Loki metric query_range)
 * - log: a Loki log query_range with limit and direction
 * - metadata: labels, label values, series (merged as a sorted, de-duplicated union)
 * - stats / volume: Loki index stats and volume (merged by summing)
 * - instant / passthrough: one sub-query, answered as the querier answered it
 */
export type QueryKind = "metric" | "log" | "metadata" | "stats" | "volume" | "instant" | "passthrough";

export type Params = Record<string, string | string[]>;

export interface QueryRequest {
  api: Api;
  kind: QueryKind;
  /** The path the querier is asked, e.g. /loki/api/v1/query_range or /api/v1/query_range (prefix removed). */
  path: string;
  /** Every parameter the client sent, except the ones this request owns (start, end, step...). */
  params: Params;
  query?: string;
  /** Nanoseconds since the epoch. Prometheus: both inclusive. Loki logs: end exclusive. */
  startNs: bigint;
  endNs: bigint;
  /** Milliseconds, for metric queries. */
  stepMs?: number;
  limit?: number;
  direction?: "forward" | "backward";
}

/** A querier's answer. JSON bodies are parsed once, so merging never re-reads bytes. */
export interface QueryResponse {
  status: number;
  contentType: string;
  /** Parsed JSON for successful structured answers. */
  json?: unknown;
  /** Raw bytes otherwise (errors, passthrough). */
  raw?: Uint8Array;
  /** The querier's Cache-Control, if any: `no-store` keeps the answer out of the results cache. */
  cacheControl?: string;
}

export interface CacheStats {
  /** Pieces answered wholly, partly or not at all from cache. */
  hit: number;
  partial: number;
  miss: number;
  entriesFound: number;
  entriesRequested: number;
  entriesStored: number;
  bytesReceived: number;
  bytesSent: number;
  /** Nanoseconds of the query's range answered from cache. */
  queryLengthServedNs: bigint;
  /** A querier said Cache-Control: no-store for some piece: the whole answer must not be kept either. */
  noStore?: boolean;
}

export const emptyCacheStats = (): CacheStats => ({
  hit: 0,
  partial: 0,
  miss: 0,
  entriesFound: 0,
  entriesRequested: 0,
  entriesStored: 0,
  bytesReceived: 0,
  bytesSent: 0,
  queryLengthServedNs: 0n,
});

/** What the queriers read for a query, as they report it (Loki's stats summary): sums over its sub-queries. */
export interface Processed {
  bytes: number;
  lines: number;
}

export interface QueryStats {
  splits: number;
  /** Shard queries the query was cut into (0: not sharded), and why a range query was not. */
  shards?: number;
  notSharded?: string;
  queueWaitMs: number;
  querierMs: number;
  retries: number;
  cache: CacheStats;
  /** Only when a querier reported it (Loki), and only what queriers read for this query (cache hits read nothing). */
  processed?: Processed;
}

/** Adds what one sub-query's querier read to the query's stats. */
export function addProcessed(stats: QueryStats, p: Processed | undefined): void {
  if (!p) return;
  stats.processed ??= { bytes: 0, lines: 0 };
  stats.processed.bytes += p.bytes;
  stats.processed.lines += p.lines;
}

export interface QueryContext {
  identity: Identity;
  /** Client headers worth passing to queriers (traceparent, X-Query-Tags...). */
  forwardHeaders: Headers;
  /** Aborts when the client disconnects or the query times out: queued and in-flight sub-queries stop. */
  signal: AbortSignal;
  deadline: number;
  /** The strictest limits of the query's tenants. */
  limits: Limits;
  stats: QueryStats;
  /** Told as split pieces complete (asynchronous queries report progress). */
  progress?: (done: number, total: number) => void;
}

export type Handler = (req: QueryRequest, ctx: QueryContext) => Promise<QueryResponse>;
export type Middleware = (next: Handler) => Handler;

/** compose(a, b, c)(h) = a(b(c(h))): the first middleware sees the request first. */
export const compose =
  (...middlewares: Middleware[]): Middleware =>
  (h) =>
    middlewares.reduceRight((next, m) => m(next), h);

export const NS_PER_MS = 1_000_000n;
