import { parser } from "@grafana/lezer-logql";
import type { BlockedQuery, Limits } from "../../config/schema.js";
import { parseDurationMs } from "../../config/duration.js";
import { ApiError } from "../../http/errors.js";
import { firstMatch } from "../blocked.js";
import { goDuration, lokiQueryLimits, LOKI_QUERY_LIMITS_HEADER } from "../../http/loki-query-limits.js";
import type { Handler, Middleware, QueryContext, QueryRequest } from "../types.js";
import { NS_PER_MS } from "../types.js";

export interface GuardOptions {
  /** Told of each refused query, with the rule's reason. */
  blocked?: (tenant: string, reason: string) => void;
  now?: () => number;
}

/** Kinds that run a query expression: the ones blocked queries apply to (never the tail, which is not here). */
const QUERIES = new Set(["metric", "log", "instant"]);
const RANGED = new Set(["metric", "log", "metadata", "stats", "volume"]);
const MAX_LIMITED = 10_000;

const textOf = (req: QueryRequest): string | undefined => {
  if (req.query !== undefined) return req.query;
  const q = req.params.query;
  return Array.isArray(q) ? q[0] : q;
};

/**
 * The limits fairgate applies before and after a query runs, outside the caches (a cached answer is refused the
 * same): blocked and limited queries, max_query_range, max_query_lookback, max_query_bytes_read (from Loki's
 * index/stats, asked through the pipeline as Loki's frontend does), max_query_series; and X-Loki-Query-Limits, so
 * that Loki applies the rest (required_labels) and checks again.
 */
export function queryGuard(opts: GuardOptions = {}): Middleware {
  const now = opts.now ?? Date.now;
  // Mimir's limited_queries: when each (tenant, rule, query) last ran.
  const lastRun = new Map<string, number>();
  return (next) => async (req, ctx) => {
    const l = ctx.limits;
    const tenant = ctx.identity.tenants.join("|");
    const text = textOf(req);
    if (text !== undefined && QUERIES.has(req.kind)) {
      const facts = { api: req.api, query: text, tags: ctx.forwardHeaders.get("x-query-tags") };
      const rule = firstMatch(l.blocked_queries, facts);
      if (rule && !allowedOnce(rule, `${tenant}\n${JSON.stringify(rule)}\n${text}`)) {
        const reason = rule.reason ?? "blocked";
        opts.blocked?.(tenant, reason);
        throw refusal(rule, reason);
      }
    }
    if (req.api === "loki" && text !== undefined && QUERIES.has(req.kind) && l.max_query_range > 0) {
      const { rangeMs } = selectorsOf(text);
      if (rangeMs > l.max_query_range)
        throw new ApiError(
          "bad_data",
          `[interval] value exceeds limit: [${goDuration(rangeMs)}] > [${goDuration(l.max_query_range)}]`,
        );
    }
    if (req.api === "loki") {
      const header = lokiQueryLimits(l);
      if (header) ctx.forwardHeaders.set(LOKI_QUERY_LIMITS_HEADER, header);
    }
    const bounded = RANGED.has(req.kind) && l.max_query_lookback > 0 ? withinLookback(req, l, now()) : req;
    if (req.api === "loki" && l.max_query_bytes_read > 0 && (req.kind === "metric" || req.kind === "log"))
      await checkBytes(bounded, ctx, next);
    const res = await next(bounded, ctx);
    if (l.max_query_series > 0 && res.status === 200) checkSeries(req, res.json, l.max_query_series);
    return res;
  };

  function allowedOnce(rule: BlockedQuery, key: string): boolean {
    if (rule.every === undefined) return false;
    const at = now();
    const last = lastRun.get(key);
    if (last !== undefined && at - last < rule.every) return false;
    if (lastRun.size >= MAX_LIMITED) lastRun.clear();
    lastRun.set(key, at);
    return true;
  }
}

function refusal(rule: BlockedQuery, reason: string): ApiError {
  const every = rule.every === undefined ? "" : ` (allowed once every ${rule.every / 1000}s)`;
  return new ApiError("bad_data", `query blocked by policy: ${reason}${every}`);
}

/** The request with its start moved up to now − max_query_lookback (on its step grid); refused when wholly older. */
function withinLookback(req: QueryRequest, l: Limits, nowMs: number): QueryRequest {
  const floor = BigInt(nowMs - l.max_query_lookback) * NS_PER_MS;
  if (req.startNs >= floor) return req;
  if (req.endNs < floor)
    throw new ApiError(
      "bad_data",
      `this query ends before the oldest time you may query (max_query_lookback: ${l.max_query_lookback / 1000}s); ` +
        "query a more recent time range",
    );
  const step = req.kind === "metric" && req.stepMs ? BigInt(req.stepMs) * NS_PER_MS : 0n;
  const startNs = step > 0n ? req.startNs + ((floor - req.startNs + step - 1n) / step) * step : floor;
  return { ...req, startNs };
}

/** The stream selectors of a LogQL query, and its longest [range] in ms. */
export function selectorsOf(query: string): { selectors: string[]; rangeMs: number } {
  const selectors = new Set<string>();
  let rangeMs = 0;
  parser.parse(query).iterate({
    enter(node) {
      if (node.name === "Selector") selectors.add(query.slice(node.from, node.to));
      if (node.name === "Range") {
        const d = parseDurationMs(query.slice(node.from, node.to).replace(/^\[|\]$/g, ""));
        if (d !== undefined) rangeMs = Math.max(rangeMs, d);
      }
    },
  });
  return { selectors: [...selectors], rangeMs };
}

/** Asks Loki's index/stats for each stream selector over the query's range, and refuses a query over the limit. */
async function checkBytes(req: QueryRequest, ctx: QueryContext, next: Handler): Promise<void> {
  const { selectors, rangeMs } = selectorsOf(req.query!);
  const startNs = req.startNs - BigInt(rangeMs) * NS_PER_MS;
  const answers = await Promise.all(
    selectors.map((query) =>
      next(
        {
          api: "loki",
          kind: "stats",
          path: "/loki/api/v1/index/stats",
          params: { query },
          startNs,
          endNs: req.endNs,
        },
        ctx,
      ),
    ),
  );
  let bytes = 0;
  for (const a of answers) {
    if (a.status !== 200) return; // no estimate: the query runs, and Loki checks again with the header
    bytes += Number((a.json as { bytes?: unknown })?.bytes ?? 0) || 0;
  }
  const limit = ctx.limits.max_query_bytes_read;
  if (bytes > limit)
    throw new ApiError(
      "bad_data",
      `the query would read too many bytes (query: ${humanBytes(bytes)}, limit: ${humanBytes(limit)}); ` +
        "consider adding more specific stream selectors or reduce the time range of the query",
    );
}

/** Bytes as Loki prints them in this message (go-humanize's IBytes: 1024-based units, one decimal below 10). */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  const e = Math.min(units.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  const v = Math.floor((n / 1024 ** e) * 10 + 0.5) / 10;
  return `${v >= 10 ? v.toFixed(0) : v.toFixed(1)} ${units[e]}`;
}

/** Refuses an answer with more series than max_query_series (metric results and series lookups). */
function checkSeries(req: QueryRequest, json: unknown, max: number): void {
  const data = (json as { data?: unknown } | undefined)?.data;
  const series = Array.isArray(data)
    ? req.path.endsWith("/series")
      ? data.length
      : 0
    : Array.isArray((data as { result?: unknown })?.result) &&
        ["matrix", "vector"].includes((data as { resultType?: string }).resultType ?? "")
      ? (data as { result: unknown[] }).result.length
      : 0;
  if (series > max)
    throw new ApiError(
      "bad_data",
      `maximum number of series (${max}) reached for a single query; ` +
        `the answer has ${series}: consider adding filters or aggregating`,
    );
}
