import { msToNs } from "../api/time.js";
import type { Middleware } from "../types.js";

/**
 * Snaps a metric query's start and end down to the step grid (start = ⌊start/step⌋·step,
 * end = ⌊end/step⌋·step). Repeated dashboard queries then ask the same questions, which the results
 * cache can answer; the price is that results may shift by up to one step from what PromQL would
 * return for the exact range. Per tenant: `align_queries_with_step`, off by default.
 */
export const align: Middleware = (next) => (req, ctx) => {
  if (req.kind !== "metric" || !req.stepMs || !ctx.limits.align_queries_with_step) return next(req, ctx);
  const step = msToNs(req.stepMs);
  return next({ ...req, startNs: (req.startNs / step) * step, endNs: (req.endNs / step) * step }, ctx);
};
