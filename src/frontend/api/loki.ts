import type { Limits } from "../../config/schema.js";
import { ApiError } from "../../http/errors.js";
import { NS_PER_MS, type Params, type QueryRequest } from "../types.js";
import type { Codec, QuerierCall } from "./codec.js";
import { mergeResponses } from "./merge-responses.js";
import { lokiProcessed, lokiQuerierTimeMs } from "./querier-time.js";
import { one, parsed, required, toSearchParams, without } from "./params.js";
import { checkRange } from "./range.js";
import { parseLokiTime, parseStepMs } from "./time.js";
import { parseDurationMs } from "../../config/duration.js";

const HOUR_NS = 3_600_000_000_000n;
const METADATA = /^(labels|series|label\/[^/]+\/values)$/;

/** LogQL `#` comments run to the end of the line (outside string literals); Grafana keeps them in queries. */
export const stripComments = (q: string): string =>
  q.replace(/("(?:[^"\\]|\\.)*"|`[^`]*`)|#[^\n]*/g, (_m, quoted: string | undefined) => quoted ?? "");

/** A log query selects streams (`{...}` first); anything else (count_over_time(...), vector(1)) is a metric query. */
export const isLogQuery = (q: string): boolean => stripComments(q).trimStart().startsWith("{");

/** Loki's default step: the range over 250 points, at least 1 s. */
export function defaultStepMs(startNs: bigint, endNs: bigint): number {
  return Math.max(Math.floor(Number((endNs - startNs) / NS_PER_MS) / 1000 / 250), 1) * 1000;
}

/**
 * Loki's own frontend evaluates a metric query on the step grid from the epoch: start rounded down,
 * end rounded up. Its answer holds those grid points, and so does a sub-query's answer. fairgate does
 * the same before splitting, so that it answers what Loki answers, and every piece it cuts, caches
 * and merges asks exactly for the grid points it covers.
 */
export function snapToStepGrid(startNs: bigint, endNs: bigint, stepNs: bigint): { startNs: bigint; endNs: bigint } {
  const down = (t: bigint) => t - (((t % stepNs) + stepNs) % stepNs);
  const up = (t: bigint) => (down(t) === t ? t : down(t) + stepNs);
  return { startNs: down(startNs), endNs: up(endNs) };
}

/** start and end with Loki's defaults: end = now, start = end − since (default `defaultSince`). */
function range(params: Params, nowNs: bigint, defaultSinceNs: bigint): { startNs: bigint; endNs: bigint } {
  const endNs = parsed(params, "end", parseLokiTime, "timestamp", () => nowNs);
  const since = one(params, "since");
  let sinceNs = defaultSinceNs;
  if (since) {
    const ms = parseDurationMs(since);
    if (ms === undefined)
      throw new ApiError(
        "bad_data",
        `invalid parameter "since": cannot parse ${JSON.stringify(since.slice(0, 64))} to a valid duration`,
      );
    sinceNs = BigInt(ms) * NS_PER_MS;
  }
  const startNs = parsed(params, "start", parseLokiTime, "timestamp", () => endNs - sinceNs);
  return { startNs, endNs };
}

function limitOf(params: Params, limits: Limits, fallback: number): number {
  const limit = parsed(
    params,
    "limit",
    (s) => (/^\d+$/.test(s) ? Number(s) : undefined),
    "integer",
    () => fallback,
  );
  if (limit <= 0) throw new ApiError("bad_data", 'invalid parameter "limit": must be a positive integer');
  if (limit > limits.max_entries_limit_per_query)
    throw new ApiError(
      "bad_data",
      `max entries limit per query exceeded, limit > max_entries_limit_per_query (${limit} > ` +
        `${limits.max_entries_limit_per_query})`,
    );
  return limit;
}

function directionOf(params: Params): "forward" | "backward" {
  const d = (one(params, "direction") ?? "backward").toLowerCase();
  if (d !== "forward" && d !== "backward")
    throw new ApiError(
      "bad_data",
      `invalid parameter "direction": must be forward or backward, not ${JSON.stringify(d.slice(0, 32))}`,
    );
  return d;
}

export const lokiCodec: Codec = {
  api: "loki",
  querierTimeMs: lokiQuerierTimeMs,
  processed: lokiProcessed,

  parse(route: string, params: Params, nowNs: bigint, limits: Limits): QueryRequest {
    const base = { api: "loki" as const, path: `/loki/api/v1/${route}`, params, startNs: nowNs, endNs: nowNs };
    if (route === "query_range") {
      const query = required(params, "query");
      const { startNs, endNs } = range(params, nowNs, HOUR_NS);
      const rest = without(params, "query", "start", "end", "since", "limit", "direction", "step");
      if (isLogQuery(query)) {
        // Loki checks step on every query_range, log queries included.
        checkRange(
          startNs,
          endNs,
          limits,
          parsed(params, "step", parseStepMs, "duration", () => defaultStepMs(startNs, endNs)),
        );
        if (endNs === startNs)
          throw new ApiError("bad_data", "end timestamp must not be before or equal to start time");
        return {
          ...base,
          kind: "log",
          params: { ...rest, ...(one(params, "step") ? { step: one(params, "step")! } : {}) },
          query,
          startNs,
          endNs,
          limit: limitOf(params, limits, 100),
          direction: directionOf(params),
        };
      }
      const stepMs = parsed(params, "step", parseStepMs, "duration", () => defaultStepMs(startNs, endNs));
      checkRange(startNs, endNs, limits, stepMs);
      // Metric queries keep their limit and direction (they matter for log-range aggregations with limits).
      return {
        ...base,
        kind: "metric",
        params: without(params, "query", "start", "end", "since", "step"),
        query,
        ...snapToStepGrid(startNs, endNs, BigInt(stepMs) * NS_PER_MS),
        stepMs,
      };
    }
    if (route === "query") {
      required(params, "query");
      parsed(params, "time", parseLokiTime, "timestamp", () => nowNs);
      if (one(params, "limit")) limitOf(params, limits, 100);
      if (one(params, "direction")) directionOf(params);
      return { ...base, kind: "instant" };
    }
    if (METADATA.test(route) || route === "index/stats" || route === "index/volume") {
      if (route.startsWith("index/")) required(params, "query");
      const { startNs, endNs } = range(params, nowNs, 6n * HOUR_NS);
      checkRange(startNs, endNs, limits);
      const kind = route === "index/stats" ? "stats" : route === "index/volume" ? "volume" : "metadata";
      const limit =
        kind === "volume"
          ? limitOf(
              { limit: one(params, "limit") ?? "100" },
              { ...limits, max_entries_limit_per_query: Number.MAX_SAFE_INTEGER },
              100,
            )
          : undefined;
      return { ...base, kind, params: without(params, "start", "end", "since"), startNs, endNs, limit };
    }
    return { ...base, kind: "passthrough" };
  },

  toQuerier(req: QueryRequest): QuerierCall {
    const params = toSearchParams(req.params);
    if (req.kind !== "instant" && req.kind !== "passthrough") {
      params.set("start", req.startNs.toString());
      params.set("end", req.endNs.toString());
    }
    if (req.query !== undefined) params.set("query", req.query);
    if (req.kind === "metric") params.set("step", String(req.stepMs! / 1000));
    if (req.kind === "log") {
      params.set("limit", String(req.limit));
      params.set("direction", req.direction!);
    }
    return { method: "GET", path: req.path, params };
  },

  merge: mergeResponses,
};
