import { ApiError } from "../../http/errors.js";
import type { QueueRefusal } from "../queue/limits.js";

/** A queue's refusal as the client gets it: 429 with retry-after for a limit, 400 for an actor path it cannot queue. */
export function refusalError(r: QueueRefusal): ApiError {
  if (r.reason === "too_many_outstanding") {
    const message =
      r.limit === "tenant"
        ? `too many outstanding requests for tenant ${r.tenant} (max_outstanding_requests_per_tenant: ${r.max}); ` +
          "retry later"
        : `too many outstanding requests for your user (max_outstanding_requests_per_actor: ${r.max}); retry later`;
    return new ApiError("too_many_requests", message, { "retry-after": "1" });
  }
  return new ApiError(
    "bad_data",
    r.problem === "empty_segment"
      ? `X-Loki-Actor-Path has an empty segment: ${JSON.stringify(r.path)}`
      : `X-Loki-Actor-Path has ${r.levels} levels, more than max_queue_hierarchy_levels (${r.max})`,
  );
}
