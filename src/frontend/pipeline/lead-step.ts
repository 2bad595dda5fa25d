import { msToNs } from "../api/time.js";
import { type MatrixBody, sliceMatrix } from "../cache/extents.js";
import type { Middleware } from "../types.js";

/**
 * Every Loki metric sub-query starts one step early, and the extra step is dropped from its answer.
 *
 * Loki evaluates the first step of a range it is asked for from less than the step's whole range
 * (seen on 3.4.6 with sparse streams: `count_over_time({…}[1h])` at step 1h has no sample at the
 * first step of a two-hour query, where a longer query finds 1). In Loki's own split of a long query,
 * such a step is also the last step of the sub-range before it, which evaluates it right. A split
 * piece, a cache gap or a moved range would otherwise expose the short-range answer at its first
 * step; starting one step early makes every step one that Loki evaluates inside a range.
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
