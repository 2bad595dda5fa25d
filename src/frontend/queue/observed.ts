import type { SubQueryObserver } from "../../observability/usage.js";
import type { QueueRefusal } from "./limits.js";
import type { QueuedRequest, RequestQueue } from "./queue.js";

/**
 * A queue that tells an observer what passes through it (for the status page), and otherwise is the
 * queue it wraps: the queue decides, the observer only watches. The querier is the one the pool
 * asked for; a retry that the pool moves to another querier is counted on the one it asked for.
 */
export class ObservedQueue<T extends QueuedRequest> implements RequestQueue<T> {
  constructor(
    readonly inner: RequestQueue<T>,
    readonly observer: SubQueryObserver,
  ) {}

  enqueue(item: T): QueueRefusal | undefined {
    const refused = this.inner.enqueue(item);
    if (!refused) this.observer.queued(item, item.tenant, item.actorPath); // a refused one was never queued
    return refused;
  }

  dequeue(querierId: string, idleActorsOnly?: boolean): T | undefined {
    const item = this.inner.dequeue(querierId, idleActorsOnly);
    if (item) this.observer.started(item, querierId);
    return item;
  }

  remove(item: T): void {
    this.inner.remove(item);
    this.observer.dropped(item);
  }

  finished(item: T, querierMs: number): void {
    this.inner.finished(item, querierMs);
    this.observer.finished(item, querierMs);
  }

  queriersChanged(ids: readonly string[]): void {
    this.inner.queriersChanged?.(ids);
  }

  get length(): number {
    return this.inner.length;
  }
}
