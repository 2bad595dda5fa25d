import { createHash } from "node:crypto";
import { ApiError } from "../../http/errors.js";
import { type JobRecord, tenantKey } from "./record.js";
import { type JobStore, modify } from "./store.js";

/** The unfinished jobs of one tenant (set of tenants), counted by every replica alike. */
interface Slots {
  jobs: Record<string, { actor: string; until: number }>;
}

export interface SlotLimits {
  max_jobs_per_tenant: number;
  max_jobs_per_actor: number;
}

const slotsKey = (tenants: string[]) => `slots.${createHash("sha256").update(tenantKey(tenants)).digest("hex")}`;

/**
 * Counts a new job against its tenant's and actor's limits, or throws 429. One key per tenant, changed
 * by compare-and-set, so that replicas submitting at once cannot both take the last slot. A slot whose
 * job was never released (its replica died at the wrong moment) lapses at `until`, the job's deadline.
 */
export async function takeSlot(store: JobStore, limits: SlotLimits, r: JobRecord, until: number, now: number) {
  await modify<Slots>(store, slotsKey(r.tenants), (current) => {
    const jobs = Object.fromEntries(Object.entries(current?.jobs ?? {}).filter(([, s]) => s.until > now));
    const all = Object.values(jobs);
    const tenant = tenantKey(r.tenants);
    if (all.length >= limits.max_jobs_per_tenant)
      throw new ApiError(
        "too_many_requests",
        `tenant ${tenant} has ${limits.max_jobs_per_tenant} asynchronous queries running (max_jobs_per_tenant); ` +
          "wait for one to finish or cancel one",
        { "retry-after": "10" },
      );
    if (all.filter((s) => s.actor === r.actorPath).length >= limits.max_jobs_per_actor)
      throw new ApiError(
        "too_many_requests",
        `you have ${limits.max_jobs_per_actor} asynchronous queries running (max_jobs_per_actor); ` +
          "wait for one to finish or cancel one",
        { "retry-after": "10" },
      );
    jobs[r.id] = { actor: r.actorPath, until };
    return { jobs };
  });
}

/** The job finished or was cancelled: it no longer counts. */
export async function freeSlot(store: JobStore, r: JobRecord): Promise<void> {
  await modify<Slots>(store, slotsKey(r.tenants), (current) => {
    if (!current?.jobs[r.id]) return undefined;
    const { [r.id]: _, ...jobs } = current.jobs;
    return { jobs };
  });
}
