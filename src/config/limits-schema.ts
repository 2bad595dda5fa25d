import { z } from "zod";
import { byteSize, duration } from "./common.js";

// The query limits: per tenant (frontend.limits, frontend.tenant_limits, the runtime file) and per group of users
// (an edge tenant rule's `limits`).

/**
 * A query a tenant or a group of users may not run (Loki's blocked_queries, with Mimir's reason): every part
 * given must match. `pattern` is the exact query text (trimmed), or a regex with `regex: true`; `hash` is Loki's
 * query_hash (32-bit FNV-1 of the text); `types` are LogQL's metric, filter and limited; `source` is the client's
 * X-Query-Tags source (case-insensitive). With `every`, a match is allowed once per interval instead of never
 * (Mimir's limited_queries).
 */
const blockedQuery = z
  .object({
    pattern: z.string().min(1).optional(),
    regex: z.boolean().default(false),
    hash: z.number().int().min(0).max(0xffffffff).optional(),
    types: z
      .union([z.string(), z.array(z.string())])
      .transform((v) => (typeof v === "string" ? v.split(",") : v).map((t) => t.trim()).filter(Boolean))
      .pipe(z.array(z.enum(["metric", "filter", "limited"], { error: "use metric, filter or limited" })))
      .optional(),
    source: z.string().min(1).optional(),
    every: duration().optional(),
    reason: z.string().min(1).max(200).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.pattern === undefined && b.hash === undefined && b.types === undefined && b.source === undefined)
      ctx.addIssue({ code: "custom", message: "give pattern, hash, types or source: which queries to block" });
    if (b.regex && b.pattern !== undefined)
      try {
        new RegExp(b.pattern);
      } catch (e) {
        ctx.addIssue({ code: "custom", path: ["pattern"], message: `not a regex: ${(e as Error).message}` });
      }
  });

export type BlockedQuery = z.infer<typeof blockedQuery>;

const regexText = z.string().superRefine((v, ctx) => {
  try {
    new RegExp(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: `not a regex: ${(e as Error).message}` });
  }
});

/**
 * A request a tenant or a group of users may not make (Mimir's blocked_requests): every part given must match.
 * `path` is the API path (e.g. /api/v1/series); `query_params` each name a parameter whose value (any of its
 * values) equals `value`, or matches it whole with `is_regexp`.
 */
const blockedRequest = z
  .object({
    path: z.string().startsWith("/").optional(),
    method: z
      .string()
      .transform((m) => m.toUpperCase())
      .optional(),
    query_params: z
      .record(z.string(), z.object({ value: regexText, is_regexp: z.boolean().default(false) }).strict())
      .optional(),
    reason: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine((b) => b.path !== undefined || b.method !== undefined || b.query_params !== undefined, {
    message: "give path, method or query_params: which requests to block",
  });

export type BlockedRequest = z.infer<typeof blockedRequest>;

/**
 * The limits that bound what one query may cost: per tenant (frontend.limits, frontend.tenant_limits) and per
 * group of users (a tenant rule's `limits`). The strictest of all that apply wins; 0 means no limit; lists add up.
 */
const queryLimitShape = {
  // Longest time range one query may cover; 0 means no limit (Loki's API: 721h unless configured).
  max_query_length: duration(),
  // How far back a query may reach: its start is moved up to now − this.
  max_query_lookback: duration(),
  // Longest [range] in a LogQL query (Loki enforces it: sent in X-Loki-Query-Limits).
  max_query_range: duration(),
  max_entries_limit_per_query: z.number().int().min(1),
  // Series in one answer (metric queries and series lookups).
  max_query_series: z.number().int().min(0),
  // Bytes a LogQL query may read, as Loki's index/stats estimates before it runs.
  max_query_bytes_read: byteSize(),
  query_timeout: duration(),
  max_query_parallelism: z.number().int().min(1),
  // Labels every stream selector must match on (Loki enforces it: sent in X-Loki-Query-Limits).
  required_labels: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "a label name")),
  blocked_queries: z.array(blockedQuery),
  blocked_requests: z.array(blockedRequest),
};

/** A group of users' limits (a tenant rule's `limits`): they only ever tighten the tenant's. */
export const userLimits = z.object(queryLimitShape).partial().strict();
export type UserLimits = z.infer<typeof userLimits>;

/** Per-tenant query limits: DEFAULT_LIMITS, then `frontend.limits`, then `frontend.tenant_limits.<id>`. */
export const limitsOverride = z
  .object({
    ...queryLimitShape,
    max_points_per_series: z.number().int().min(1),
    // Split intervals per query kind; 0 turns splitting off.
    split_metric_queries_by_interval: duration(),
    split_log_queries_by_interval: duration(),
    split_metadata_queries_by_interval: duration(),
    // A query cut into more pieces than this is cut at a multiple of its interval instead.
    max_splits_per_query: z.number().int().min(1),
    // Off by default: exact PromQL answers. On: start/end snap to the step grid, so repeated
    // dashboard queries hit the same cache entries, at the price of results shifted by up to one step.
    align_queries_with_step: z.boolean(),
    // Nothing newer than now − this is cached: recent data may still change (late samples, ingesters).
    max_cache_freshness: duration(),
    max_metadata_cache_freshness: duration(),
    // Query sharding in front of Loki or Mimir queriers (frontend.querier_kind): shards per range query (0, 1: off;
    // Loki's are rounded down to a power of two), at most max_sharded_queries pieces (splits × shards) per query,
    // and none for a query with a regex matcher longer than max_regexp_size_bytes.
    query_sharding_total_shards: z.number().int().min(0).max(512),
    query_sharding_max_sharded_queries: z.number().int().min(1),
    query_sharding_max_regexp_size_bytes: byteSize(),
  })
  .partial()
  .strict();

export type Limits = Required<z.infer<typeof limitsOverride>>;
export type LimitsOverride = z.infer<typeof limitsOverride>;

export const DEFAULT_LIMITS: Limits = {
  max_query_length: 0,
  max_query_lookback: 0,
  max_query_range: 0,
  max_points_per_series: 11_000,
  max_entries_limit_per_query: 5_000,
  max_query_series: 0,
  max_query_bytes_read: 0,
  split_metric_queries_by_interval: 86_400_000,
  split_log_queries_by_interval: 3_600_000,
  split_metadata_queries_by_interval: 86_400_000,
  max_query_parallelism: 14,
  max_splits_per_query: 512,
  align_queries_with_step: false,
  query_timeout: 120_000,
  max_cache_freshness: 600_000,
  max_metadata_cache_freshness: 86_400_000,
  query_sharding_total_shards: 16,
  query_sharding_max_sharded_queries: 128,
  query_sharding_max_regexp_size_bytes: 4096,
  required_labels: [],
  blocked_queries: [],
  blocked_requests: [],
};

/** Loki's own default max_query_length (721h): a Loki API query longer than this is refused unless configured. */
export const LOKI_MAX_QUERY_LENGTH = 721 * 3_600_000;
