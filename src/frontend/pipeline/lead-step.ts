import { msToNs } from "../api/time.js";
import { type MatrixBody, sliceMatrix } from "../cache/extents.js";
import type { Middleware } from "../types.js";

/**
 * Every Loki metric sub-query starts one step early, and the extra step is dropped from its answer.
 *
 * With a step at least its split interval (1 h by default), Loki 3.4.6 cuts a range into step-long
 * sub-ranges that share their end points, and merges their answers in an order that can put a later
 * one first; the earlier one's shared samples are then dropped. Every step but the range's first is
 * also the last step of the sub-range before it and survives; the first step of a sparse series can
 * vanish (seen: `count_over_time({…}[1h])` at step 1h, no sample where the truth and a longer query
 * say 1). A split piece, a cache gap or a moved range would expose that at its first step; starting
 * one step early leaves only the dropped step at risk.
 */
export const leadStep: Middleware = (next) => async (req, ctx) => {
  if (req.api !== "loki" || req.kind !== "metric" || !req.stepMs) return next(req, ctx);
  const res = await next({ ...req, startNs: req.startNs - msToNs(req.stepMs) }, ctx);
  const body = res.json as MatrixBody | undefined;
  if (res.status !== 200 || body?.data?.resultType !== "matrix") return res;
  const sliced = sliceMatrix(body, req.startNs, req.endNs);
  // sliceMatrix leaves execution stats out (they are not cached); this answer keeps them.
  return {
    ...res,
    json: { ...sliced, data: { ...sliced.data, ...(body.data.stats ? { stats: body.data.stats } : {}) } },
  };
};
