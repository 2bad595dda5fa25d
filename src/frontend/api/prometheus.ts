import type { Limits } from "../../config/schema.js";
import { ApiError } from "../../http/errors.js";
import type { Params, QueryRequest } from "../types.js";
import type { Codec, QuerierCall } from "./codec.js";
import { mergeResponses } from "./merge-responses.js";
import { one, toSearchParams, without } from "./params.js";
import {
  checkStep,
  checkTimeout,
  durationParam,
  endBeforeStart,
  floorMs,
  goSub,
  inWindow,
  invalidParameter,
  NO_EXPRESSION,
  optionalTimeParam,
  timeParam,
} from "./prometheus-params.js";
import { checkLength, tooManyPoints } from "./range.js";
import { formatSeconds } from "./time.js";

const METADATA = /^(labels|series|label\/[^/]+\/values)$/;
// model.LabelNameRE in Prometheus 2.x.
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
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
    // Whatever fairgate cannot split faithfully goes to the querier as it came, for Prometheus to answer.
    const asItCame = { ...base, kind: "passthrough" as const };
    if (route === "query_range") {
      // Prometheus' own checks, in its order, so a request with several faults gets its answer.
      const startNs = timeParam(params, "start");
      const endNs = timeParam(params, "end");
      if (endNs < startNs) throw endBeforeStart();
      const stepNs = durationParam(params, "step");
      checkStep(stepNs);
      if (goSub(endNs, startNs) / stepNs > BigInt(limits.max_points_per_series)) throw tooManyPoints(limits);
      checkTimeout(params);
      checkLength(startNs, endNs, limits);
      const query = one(params, "query") ?? "";
      if (query === "") throw new ApiError("bad_data", NO_EXPRESSION); // query_range says it bare
      if (!inWindow(startNs) || !inWindow(endNs)) return asItCame;
      const [start, end] = [floorMs(startNs), floorMs(endNs)];
      return {
        ...base,
        kind: "metric",
        params: without(params, "query", "start", "end", "step"),
        query: pinStartEnd(query, start, end),
        startNs: start,
        endNs: end,
        stepMs: Number(stepNs) / 1e6,
      };
    }
    if (route === "query") {
      const timeNs = optionalTimeParam(params, "time") ?? nowNs;
      checkTimeout(params);
      if (!one(params, "query")) throw invalidParameter("query", NO_EXPRESSION);
      const at = inWindow(timeNs) ? floorMs(timeNs) : nowNs;
      return { ...base, kind: "instant", startNs: at, endNs: at };
    }
    if (METADATA.test(route)) {
      // Prometheus refuses these before it reads the times.
      const name = /^label\/([^/]+)\/values$/.exec(route)?.[1];
      if ((name !== undefined && !LABEL_NAME.test(name)) || (route === "series" && !params["match[]"])) return asItCame;
      const startNs = optionalTimeParam(params, "start");
      const endNs = optionalTimeParam(params, "end");
      if (startNs === undefined || endNs === undefined) return asItCame; // from or to the end of time
      if (endNs >= startNs) checkLength(startNs, endNs, limits);
      // With end before start, Prometheus answers what the blocks it opens hold: often [], not always.
      if (endNs < startNs || !inWindow(startNs) || !inWindow(endNs)) return asItCame;
      const [start, end] = [floorMs(startNs), floorMs(endNs)];
      return { ...base, kind: "metadata", params: without(params, "start", "end"), startNs: start, endNs: end };
    }
    return asItCame;
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
