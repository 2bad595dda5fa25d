import type { QueueSnapshot } from "../../observability/metrics.js";
import { actorSegments, type LimitOptions, type QueueRefusal, TenantLimits } from "./limits.js";
import type { QueuedRequest, RequestQueue } from "./queue.js";
import { QueueTree, type TreeOptions } from "./tree.js";

export type { Policy } from "./turns.js";
export type FairQueueOptions = TreeOptions & LimitOptions;

/**
 * The hierarchical fair queue: tenant → actor path segments (X-Loki-Actor-Path), as in Loki. Siblings
 * take turns (round-robin), or the one that has used the least querier time goes next (querier-time,
 * like start-time fair queueing): a sub-query is charged an estimate when dispatched and corrected by
 * its real querier time when it completes, so an actor whose sub-queries cost ten times more gets ten
 * times fewer of them.
 *
 * This is the front: it checks each request against the tenant limits (limits.ts), then queues it in
 * the tree (tree.ts), and dequeues for a querier only what that querier's shards allow.
 */
export class FairQueue<T extends QueuedRequest> implements RequestQueue<T> {
  readonly tree: QueueTree<T>;
  readonly limits: TenantLimits;

  constructor(readonly opts: FairQueueOptions) {
    this.tree = new QueueTree<T>(opts);
    this.limits = new TenantLimits(opts);
  }

  get length(): number {
    return this.tree.length;
  }

  enqueue(item: T): QueueRefusal | undefined {
    const segments = actorSegments(item.actorPath, this.opts.maxLevels);
    if (!Array.isArray(segments)) return segments;
    const refused = this.limits.outstanding(item.tenant, segments, (names) => this.tree.queuedAt(names));
    if (refused) return refused;
    this.tree.add(item, [item.tenant, ...segments]);
    return undefined;
  }

  dequeue(querierId: string, idleActorsOnly = false): T | undefined {
    const eligible = (tenant: string) => this.limits.shard(tenant).has(querierId);
    for (;;) {
      const item = this.tree.take(eligible, idleActorsOnly);
      if (!item) return undefined;
      if (!item.signal.aborted) return item;
      this.tree.finished(item, 0); // cancelled while queued: dropped, never charged
    }
  }

  remove(item: T): void {
    this.tree.remove(item);
  }

  finished(item: T, querierMs: number): void {
    this.tree.finished(item, querierMs);
  }

  queriersChanged(ids: readonly string[]): void {
    this.limits.queriersChanged(ids);
  }

  /** Queriers a tenant's requests may run on (all, unless max_queriers_per_tenant). */
  shard(tenant: string): Set<string> {
    return this.limits.shard(tenant);
  }

  queuedByTenant(): { tenant: string; queued: number }[] {
    return [...this.tree.root.children.values()].map((n) => ({ tenant: n.name, queued: n.queued }));
  }

  snapshot(): Required<QueueSnapshot> {
    return { queued: this.length, tenants: this.tree.describe() };
  }
}
