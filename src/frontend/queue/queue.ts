import type { QueueRefusal } from "./limits.js";

/** A sub-query waiting for a querier. */
export interface QueuedRequest {
  /** The tenant (a federated query's tenants joined by "|"). */
  tenant: string;
  /** X-Loki-Actor-Path segments below the tenant. */
  actorPath: string[];
  enqueuedAt: number;
  signal: AbortSignal;
}

/** The queue between the pipeline and the queriers. Dequeue order is where fairness lives. */
export interface RequestQueue<T extends QueuedRequest = QueuedRequest> {
  /** Queues `item`, or says why not (a limit reached, a path it cannot queue): then nothing was queued. */
  enqueue(item: T): QueueRefusal | undefined;
  /**
   * The next request a querier should run, if any. Cancelled requests are dropped, never returned.
   * With `idleActorsOnly`, only a request of an actor with nothing in flight qualifies (see admission.ts).
   */
  dequeue(querierId: string, idleActorsOnly?: boolean): T | undefined;
  /** Takes a cancelled request out at once. */
  remove(item: T): void;
  /** A dispatched request is done after `querierMs` of querier time (fair queues charge it). */
  finished(item: T, querierMs: number): void;
  /** The queriers work may go to now (discovered ones come and go): shuffle sharding ranks these. */
  queriersChanged?(ids: readonly string[]): void;
  readonly length: number;
}

/** One FIFO per tenant, tenants in turn: a correct start that the fair queue replaces. */
export class TenantFifoQueue<T extends QueuedRequest> implements RequestQueue<T> {
  readonly #tenants = new Map<string, T[]>();
  #length = 0;

  enqueue(item: T): undefined {
    let q = this.#tenants.get(item.tenant);
    if (!q) this.#tenants.set(item.tenant, (q = []));
    q.push(item);
    this.#length++;
  }

  dequeue(_querierId?: string, idleActorsOnly = false): T | undefined {
    // A FIFO keeps no per-actor state: it offers nothing for the idle-actor slots.
    if (idleActorsOnly) return undefined;
    for (const [tenant, q] of this.#tenants) {
      this.#tenants.delete(tenant);
      let item: T | undefined;
      while ((item = q.shift())) {
        this.#length--;
        if (!item.signal.aborted) break;
      }
      if (q.length) this.#tenants.set(tenant, q); // back of the rotation
      if (item && !item.signal.aborted) return item;
    }
    return undefined;
  }

  remove(item: T): void {
    const q = this.#tenants.get(item.tenant);
    const i = q?.indexOf(item) ?? -1;
    if (i < 0) return;
    q!.splice(i, 1);
    this.#length--;
    if (q!.length === 0) this.#tenants.delete(item.tenant);
  }

  finished(): void {}

  get length(): number {
    return this.#length;
  }
}
