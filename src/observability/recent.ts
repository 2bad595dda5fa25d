/** What one actor, tenant or querier did in the recent window. */
export interface RecentUse {
  /** Querier time used (ms), in-flight sub-queries counted as they run. */
  querierMs: number;
  /** Sub-queries that went to a querier. */
  ran: number;
  /** Their time in the queue: total and longest (ms). */
  waitMs: number;
  maxWaitMs: number;
  lastActive: number;
}

interface Bucket {
  minute: number;
  querierMs: number;
  ran: number;
  waitMs: number;
  maxWaitMs: number;
}

interface Entry<L> {
  labels: L;
  buckets: Bucket[];
  lastActive: number;
}

const MINUTE = 60_000;

/**
 * Recently active keys (actors, tenants or queriers) with what they used, in one-minute buckets so
 * that "the last 15 minutes" means that, not "since start-up". A key is forgotten `windowMs` after
 * its last activity, and at most `maxKeys` are kept (the least recently active go first): hostile
 * or churning actor paths cannot grow it without bound.
 */
export class RecentTable<L> {
  // Insertion order is recency order: a touched key moves to the end.
  readonly #entries = new Map<string, Entry<L>>();

  constructor(
    readonly windowMs: number,
    readonly maxKeys = 20_000,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  add(key: string, labels: L, now: number, use: { querierMs?: number; ran?: number; waitMs?: number }): void {
    let e = this.#entries.get(key);
    if (e) this.#entries.delete(key);
    else {
      e = { labels, buckets: [], lastActive: now };
      if (this.#entries.size >= this.maxKeys) this.#entries.delete(this.#entries.keys().next().value as string);
    }
    this.#entries.set(key, e);
    e.lastActive = now;
    const minute = Math.floor(now / MINUTE);
    let b = e.buckets.at(-1);
    if (b?.minute !== minute) {
      b = { minute, querierMs: 0, ran: 0, waitMs: 0, maxWaitMs: 0 };
      e.buckets.push(b);
      this.#trim(e, now);
    }
    b.querierMs += use.querierMs ?? 0;
    b.ran += use.ran ?? 0;
    b.waitMs += use.waitMs ?? 0;
    b.maxWaitMs = Math.max(b.maxWaitMs, use.waitMs ?? 0);
  }

  /** Forgets keys idle for longer than the window (the oldest are first in the map). */
  expire(now: number): void {
    for (const [key, e] of this.#entries) {
      if (e.lastActive >= now - this.windowMs) return;
      this.#entries.delete(key);
    }
  }

  /**
   * The `n` keys that used the most querier time in the window (then the most recent),
   * and how many others there are.
   */
  top(n: number, now: number): { rows: (RecentUse & { labels: L })[]; rest: number } {
    const rows: (RecentUse & { labels: L })[] = [];
    for (const [labels, use] of this.all(now)) rows.push({ labels, ...use });
    rows.sort((a, b) => b.querierMs - a.querierMs || b.lastActive - a.lastActive);
    return { rows: rows.slice(0, n), rest: Math.max(0, rows.length - n) };
  }

  /** Every key still in the window with its use (for sums over keys). */
  *all(now: number): Generator<[L, RecentUse]> {
    this.expire(now);
    for (const e of this.#entries.values()) yield [e.labels, this.#sum(e, now)];
  }

  /** One key's use in the window, if it is known. */
  get(key: string, now: number): RecentUse | undefined {
    const e = this.#entries.get(key);
    return e && e.lastActive >= now - this.windowMs ? this.#sum(e, now) : undefined;
  }

  #trim(e: Entry<L>, now: number): void {
    const first = Math.floor((now - this.windowMs) / MINUTE);
    while (e.buckets.length && e.buckets[0]!.minute < first) e.buckets.shift();
  }

  #sum(e: Entry<L>, now: number): RecentUse {
    this.#trim(e, now);
    const use: RecentUse = { querierMs: 0, ran: 0, waitMs: 0, maxWaitMs: 0, lastActive: e.lastActive };
    for (const b of e.buckets) {
      use.querierMs += b.querierMs;
      use.ran += b.ran;
      use.waitMs += b.waitMs;
      use.maxWaitMs = Math.max(use.maxWaitMs, b.maxWaitMs);
    }
    return use;
  }
}
