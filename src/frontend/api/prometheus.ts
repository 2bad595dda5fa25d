import type { Limits } from "../../config/schema.js";
import type { Params, QueryRequest } from "../types.js";
import type { Codec, QuerierCall } from "./codec.js";
import { mergeResponses } from "./merge-responses.js";
import { one, parsed, required, toSearchParams, without } from "./params.js";
import { checkRange } from "./range.js";
import { formatSeconds, parsePromTime, parseStepMs } from "./time.js";

const METADATA = /^(labels|series|label\/[^/]+\/values)$/;
// Prometheus' label values endpoint takes GET only; the others take forms, which keeps long queries out of URLs.
const FORM_ROUTES = new Set(["query", "query_range", "series", "labels"]);

/**
 * `@ start()` and `@ end()` name the query's own range: once split, each piece would read its own.
 * They become the absolute times of the whole query (outside string literals).
 */
export function pinStartEnd(query: string, startNs: bigint, endNs: bigint): string {
  return query.replace(
    /("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)|@\s*(start|end)\s*\(\s*\)/g,
    (m, quoted: string | undefined, which: string | undefined) =>
      quoted !== undefined ? m : `@ ${formatSeconds(which === "start" ? startNs : endNs)}`,
  );
}

export const prometheusCodec: Codec = {
  api: "prometheus",

  parse(route: string, params: Params, nowNs: bigint, limits: Limits): QueryRequest {
    const base = { api: "prometheus" as const, path: `/api/v1/${route}`, params, startNs: nowNs, endNs: nowNs };
    if (route === "query_range") {
      const query = required(params, "query");
      const startNs = parsed(params, "start", parsePromTime, "timestamp");
      const endNs = parsed(params, "end", parsePromTime, "timestamp");
      const stepMs = parsed(params, "step", parseStepMs, "duration");
      checkRange(startNs, endNs, limits, stepMs);
      return {
        ...base,
        kind: "metric",
        params: without(params, "query", "start", "end", "step"),
        query: pinStartEnd(query, startNs, endNs),
        startNs,
        endNs,
        stepMs,
      };
    }
    if (route === "query") {
      required(params, "query");
      const timeNs = parsed(params, "time", parsePromTime, "timestamp", () => nowNs);
      return { ...base, kind: "instant", startNs: timeNs, endNs: timeNs };
    }
    if (METADATA.test(route) && one(params, "start") && one(params, "end")) {
      const startNs = parsed(params, "start", parsePromTime, "timestamp");
      const endNs = parsed(params, "end", parsePromTime, "timestamp");
      checkRange(startNs, endNs, limits);
      return { ...base, kind: "metadata", params: without(params, "start", "end"), startNs, endNs };
    }
    return { ...base, kind: METADATA.test(route) ? "instant" : "passthrough" };
  },

  toQuerier(req: QueryRequest): QuerierCall {
    const params = toSearchParams(req.params);
    if (req.kind === "metric") {
      params.set("query", req.query!);
      params.set("start", formatSeconds(req.startNs));
      params.set("end", formatSeconds(req.endNs));
      params.set("step", String(req.stepMs! / 1000));
    } else if (req.kind === "metadata") {
      params.set("start", formatSeconds(req.startNs));
      params.set("end", formatSeconds(req.endNs));
    }
    const route = req.path.replace(/^.*\/api\/v1\//, "");
    return { method: FORM_ROUTES.has(route) ? "POST" : "GET", path: req.path, params };
  },

  merge: mergeResponses,
};
