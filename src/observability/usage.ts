import { RecentTable } from "./recent.js";

/** What the queue tells about each sub-query: queued, handed to a querier, finished or dropped. */
export interface SubQueryObserver {
  queued(key: object, tenant: string, actorPath: string[]): void;
  started(key: object, querierId: string): void;
  finished(key: object, querierMs: number): void;
  /** Left the queue without running (cancelled). */
  dropped(key: object): void;
}

interface Waiting {
  tenant: string;
  actor: string;
  since: number;
}

interface Running extends Waiting {
  querier: string;
  /** Querier time already counted. */
  charged: number;
  began: number;
}

/** What happened since the last tick, for the charts. */
export interface UsageTick {
  /** Querier time used per tenant, and per actor within each tenant (ms). */
  busyByTenant: Map<string, number>;
  busyByActor: Map<string, Map<string, number>>;
  /** Queue waits (ms) of the sub-queries that went to a querier; a sample of at most 2,000. */
  waits: number[];
  /** How long the oldest sub-query still queued has waited (ms). */
  oldestWaitingMs: number;
}

const MAX_WAITS = 2000;

/**
 * Who uses the queriers: recently active actors, tenants and queriers with their querier time,
 * sub-queries run and queue wait, and per-tick figures for the charts. Running sub-queries are
 * charged as they run, so one long sub-query shows as a busy slot over its whole run, not a spike
 * at its end.
 */
export class QuerierUsage implements SubQueryObserver {
  readonly actors: RecentTable<{ tenant: string; actor: string }>;
  readonly tenants: RecentTable<{ tenant: string }>;
  readonly queriers: RecentTable<{ querier: string }>;
  // Insertion order is enqueue order: the first is the oldest still waiting.
  readonly #waiting = new Map<object, Waiting>();
  readonly #running = new Map<object, Running>();
  #tick: UsageTick = emptyTick();
  #seen = 0;

  constructor(
    windowMs: number,
    readonly now: () => number = Date.now,
  ) {
    this.actors = new RecentTable(windowMs);
    this.tenants = new RecentTable(windowMs, 5_000);
    this.queriers = new RecentTable(windowMs, 1_000);
  }

  queued(key: object, tenant: string, actorPath: string[]): void {
    this.#waiting.set(key, { tenant, actor: actorPath.join("|"), since: this.now() });
  }

  started(key: object, querierId: string): void {
    const w = this.#waiting.get(key);
    if (!w) return;
    this.#waiting.delete(key);
    const now = this.now();
    const waited = now - w.since;
    this.#running.set(key, { ...w, querier: querierId, charged: 0, began: now });
    this.#use(w.tenant, w.actor, querierId, now, { ran: 1, waitMs: waited });
    // Reservoir sampling keeps the quantiles honest when a tick sees more waits than it keeps.
    const i = this.#seen++;
    if (i < MAX_WAITS) this.#tick.waits.push(waited);
    else {
      const j = Math.floor(Math.random() * (i + 1));
      if (j < MAX_WAITS) this.#tick.waits[j] = waited;
    }
  }

  finished(key: object, querierMs: number): void {
    const r = this.#running.get(key);
    if (!r) {
      this.dropped(key);
      return;
    }
    this.#running.delete(key);
    this.#charge(r, Math.max(0, querierMs - r.charged));
  }

  dropped(key: object): void {
    this.#waiting.delete(key);
  }

  /** Sub-queries queued or running now, as this observer saw them. */
  get counts(): { waiting: number; running: number } {
    return { waiting: this.#waiting.size, running: this.#running.size };
  }

  /** Charges running sub-queries up to now and hands over the tick's figures. */
  tick(): UsageTick {
    const now = this.now();
    for (const r of this.#running.values()) this.#charge(r, Math.max(0, now - r.began - r.charged));
    const tick = this.#tick;
    const oldest = this.#waiting.values().next().value;
    tick.oldestWaitingMs = oldest ? now - oldest.since : 0;
    this.#tick = emptyTick();
    this.#seen = 0;
    this.actors.expire(now);
    this.tenants.expire(now);
    this.queriers.expire(now);
    return tick;
  }

  #charge(r: Running, ms: number): void {
    if (ms <= 0) return;
    r.charged += ms;
    const t = this.#tick;
    t.busyByTenant.set(r.tenant, (t.busyByTenant.get(r.tenant) ?? 0) + ms);
    let actors = t.busyByActor.get(r.tenant);
    if (!actors) t.busyByActor.set(r.tenant, (actors = new Map()));
    actors.set(r.actor, (actors.get(r.actor) ?? 0) + ms);
    this.#use(r.tenant, r.actor, r.querier, this.now(), { querierMs: ms });
  }

  #use(
    tenant: string,
    actor: string,
    querier: string,
    now: number,
    use: { querierMs?: number; ran?: number; waitMs?: number },
  ) {
    // NUL cannot occur in a header value, so tenant and actor path never run together.
    this.actors.add(`${tenant}\0${actor}`, { tenant, actor }, now, use);
    this.tenants.add(tenant, { tenant }, now, use);
    this.queriers.add(querier, { querier }, now, use);
  }
}

const emptyTick = (): UsageTick => ({ busyByTenant: new Map(), busyByActor: new Map(), waits: [], oldestWaitingMs: 0 });
