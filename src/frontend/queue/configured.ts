import type { FrontendConfig } from "../../config/schema.js";
import type { SubQuery } from "../dispatch/pool.js";
import { FairQueue } from "./fair-queue.js";

/** The fair queue as the frontend's `queue:` section configures it. */
export function fairQueue(config: FrontendConfig): FairQueue<SubQuery> {
  const q = config.queue;
  return new FairQueue<SubQuery>({
    policy: q.policy,
    tenantPolicy: q.tenant_policy,
    maxLevels: q.max_queue_hierarchy_levels,
    maxOutstandingPerTenant: q.max_outstanding_requests_per_tenant,
    maxOutstandingPerActor: q.max_outstanding_requests_per_actor,
    maxQueriersPerTenant: q.max_queriers_per_tenant,
    querierIds: config.queriers.map((x) => x.url),
    activationCreditMs: q.activation_credit,
    weight: (tenant, path) => {
      const joined = path.join("|");
      return q.weights.find((w) => (w.tenant === undefined || w.tenant === tenant) && w.path === joined)?.weight ?? 1;
    },
  });
}
