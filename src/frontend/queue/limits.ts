import { shardFor } from "./shard.js";

/**
 * Why a request was not queued. The queue only says so; the dispatcher turns it into the HTTP error
 * (dispatch/refusal.ts). `reason` is the label of fairgate's discarded-requests metric.
 */
export type QueueRefusal =
  | { reason: "too_many_outstanding"; limit: "tenant"; tenant: string; max: number }
  | { reason: "too_many_outstanding"; limit: "actor"; max: number }
  | { reason: "invalid"; problem: "empty_segment"; path: string }
  | { reason: "invalid"; problem: "too_deep"; levels: number; max: number };

export interface LimitOptions {
  /** Actor path segments below the tenant (Loki's max_queue_hierarchy_levels). */
  maxLevels: number;
  maxOutstandingPerTenant: number;
  /** 0: no per-actor limit. */
  maxOutstandingPerActor: number;
  /** Queriers a tenant may use (shuffle sharding); 0 = all. */
  maxQueriersPerTenant: number;
  querierIds: readonly string[];
}

/** Refused unless an actor path is valid, or returned as segments below the tenant. */
export function actorSegments(path: string[], maxLevels: number): string[] | QueueRefusal {
  // An empty header ("".split("|") = [""]) is no path at all: the tenant's own queue.
  const segments = path.length === 1 && path[0] === "" ? [] : path;
  if (segments.some((s) => s === "")) return { reason: "invalid", problem: "empty_segment", path: segments.join("|") };
  if (segments.length > maxLevels)
    return { reason: "invalid", problem: "too_deep", levels: segments.length, max: maxLevels };
  return segments;
}

/**
 * The tenant limits around the fair queue (Loki's tenant queues): how many requests a tenant and an
 * actor may have waiting, and which queriers a tenant's requests may run on (shuffle sharding).
 */
export class TenantLimits {
  readonly #shards = new Map<string, Set<string>>();
  #querierIds: readonly string[];

  constructor(readonly opts: LimitOptions) {
    this.#querierIds = opts.querierIds;
  }

  /** The queriers work may go to now (discovered ones come and go): every tenant's shard is drawn again. */
  queriersChanged(ids: readonly string[]): void {
    this.#querierIds = ids;
    this.#shards.clear();
  }

  /**
   * Why one more request of `tenant` at `segments` may not wait now, given how many already wait at
   * a node ([tenant, ...segments]); undefined when it may.
   */
  outstanding(tenant: string, segments: string[], queuedAt: (names: string[]) => number): QueueRefusal | undefined {
    const max = this.opts.maxOutstandingPerTenant;
    if (queuedAt([tenant]) >= max) return { reason: "too_many_outstanding", limit: "tenant", tenant, max };
    const perActor = this.opts.maxOutstandingPerActor;
    if (perActor > 0 && queuedAt([tenant, ...segments]) >= perActor)
      return { reason: "too_many_outstanding", limit: "actor", max: perActor };
    return undefined;
  }

  /** Queriers a tenant's requests may run on (all, unless max_queriers_per_tenant). */
  shard(tenant: string): Set<string> {
    let s = this.#shards.get(tenant);
    if (!s) {
      s = new Set(shardFor(tenant, this.#querierIds, this.opts.maxQueriersPerTenant));
      if (this.#shards.size > 10_000) this.#shards.clear();
      this.#shards.set(tenant, s);
    }
    return s;
  }
}
