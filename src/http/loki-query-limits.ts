import type { UserLimits } from "../config/schema.js";

/**
 * Loki's per-request limits header. Loki reads it only with `querier.per_request_limits_enabled: true`, and then
 * only where it is stricter than the tenant's own limits (pkg/util/querylimits): sending it never loosens Loki.
 */
export const LOKI_QUERY_LIMITS_HEADER = "x-loki-query-limits";

/** Go's model.Duration text, as Loki prints limits: whole units, largest first ("1d2h", "30s"). */
export const goDuration = (ms: number): string => {
  if (ms % 1000 !== 0) return `${ms}ms`;
  let s = ms / 1000;
  let out = "";
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (s >= size) {
      out += `${Math.floor(s / size)}${unit}`;
      s %= size;
    }
  }
  return out || "0s";
};

/**
 * The header's JSON (the field names Loki 3.4 reads), or undefined when no limit is set: a query's limits (the
 * frontend), or a user's alone (the edge in front of Loki itself).
 */
export function lokiQueryLimits(l: UserLimits): string | undefined {
  const body: Record<string, string | number | string[]> = {};
  const positive = (v: number | undefined): v is number => v !== undefined && v > 0;
  if (positive(l.max_query_length)) body.maxQueryLength = goDuration(l.max_query_length);
  if (positive(l.max_query_range)) body.maxQueryInterval = goDuration(l.max_query_range);
  if (positive(l.max_query_lookback)) body.maxQueryLookback = goDuration(l.max_query_lookback);
  if (positive(l.max_entries_limit_per_query)) body.maxEntriesLimitPerQuery = l.max_entries_limit_per_query;
  if (positive(l.query_timeout)) body.maxQueryTime = goDuration(l.query_timeout);
  if (positive(l.max_query_bytes_read)) body.maxQueryBytesRead = `${l.max_query_bytes_read}B`;
  if (l.required_labels?.length) body.requiredLabels = l.required_labels;
  return Object.keys(body).length ? JSON.stringify(body) : undefined;
}
