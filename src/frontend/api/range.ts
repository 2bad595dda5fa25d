import type { Limits } from "../../config/schema.js";
import { formatDurationMs } from "../../config/duration.js";
import { ApiError } from "../../http/errors.js";
import { NS_PER_MS } from "../types.js";

/** The checks Prometheus and Loki make on a range, with their wording, plus our max query length. */
export function checkRange(startNs: bigint, endNs: bigint, limits: Limits, stepMs?: number): void {
  if (endNs < startNs) throw new ApiError("bad_data", "end timestamp must not be before start time");
  const lengthMs = Number((endNs - startNs) / NS_PER_MS);
  if (limits.max_query_length > 0 && lengthMs > limits.max_query_length)
    throw new ApiError(
      "bad_data",
      `the query time range exceeds the limit (query length: ${formatDurationMs(lengthMs)}, limit: ` +
        `${formatDurationMs(limits.max_query_length)}); try a smaller time range`,
    );
  if (stepMs === undefined) return;
  if (!(stepMs > 0))
    throw new ApiError(
      "bad_data",
      "zero or negative query resolution step widths are not accepted. Try a positive integer",
    );
  // Go divides durations as integers: 11000.9 steps count as 11000.
  if (Math.floor(lengthMs / stepMs) > limits.max_points_per_series)
    throw new ApiError(
      "bad_data",
      `exceeded maximum resolution of ${limits.max_points_per_series.toLocaleString("en-US")} points per ` +
        `timeseries. Try decreasing the query resolution (?step=XX)`,
    );
}
