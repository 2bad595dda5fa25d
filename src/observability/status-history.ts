import { SampleClock, SeriesGroups, SeriesSet } from "./history.js";
import type { FrontendMetrics } from "./metrics.js";
import type { RequestLog } from "./requests.js";

export interface HistoryOptions {
  /** How much time the charts cover, and how often they are sampled (ms). */
  windowMs: number;
  intervalMs: number;
}

/** What GET /debug/history answers, and the status page's client reads. */
export type HistoryData = ReturnType<StatusHistory["read"]>;
/** The series groups in HistoryData: the charts draw from these. */
export type HistorySource = keyof HistoryData["charts"];

/** At most this many tenants get a series of their own per chart; the rest are summed as "others". */
const TENANT_SERIES = 12;
/** Tenants with a per-actor breakdown, and actors per tenant. */
const BREAKDOWN_TENANTS = 20;
const ACTOR_SERIES = 10;

/**
 * The status page's charts: samples what the process did every `intervalMs` into bounded rings
 * (see history.ts) and serves them incrementally, so the page fetches each point once.
 */
export class StatusHistory {
  readonly clock: SampleClock;
  readonly requests: SeriesSet;
  readonly queue: SeriesSet;
  readonly busy: SeriesSet;
  readonly actors: SeriesGroups;
  readonly wait: SeriesSet;
  readonly cache: SeriesSet;
  readonly slots: SeriesSet;
  /** Pieces held back inside their queries by max_query_parallelism: beside the queue, not in it. */
  readonly held: SeriesSet;
  readonly #timer: ReturnType<typeof setInterval>;
  #lastRequests = new Map<string, number>();
  #lastCache = { hit: 0, partial: 0, miss: 0 };
  #lastTime: number;

  constructor(
    readonly opts: HistoryOptions,
    readonly log: RequestLog,
    readonly frontend?: FrontendMetrics,
    readonly now: () => number = Date.now,
  ) {
    this.clock = new SampleClock(Math.max(2, Math.ceil(opts.windowMs / opts.intervalMs)));
    this.requests = new SeriesSet(this.clock);
    this.queue = new SeriesSet(this.clock, TENANT_SERIES);
    this.busy = new SeriesSet(this.clock, TENANT_SERIES);
    this.actors = new SeriesGroups(this.clock, BREAKDOWN_TENANTS, ACTOR_SERIES);
    this.wait = new SeriesSet(this.clock);
    this.cache = new SeriesSet(this.clock);
    this.slots = new SeriesSet(this.clock);
    this.held = new SeriesSet(this.clock);
    this.#lastTime = this.now();
    this.#lastRequests = new Map(log.byStatusClass);
    if (frontend) this.#lastCache = { ...frontend.cacheTally };
    this.#timer = setInterval(() => this.sample(), opts.intervalMs);
    this.#timer.unref?.();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** Takes one sample (the timer calls it; tests may too). */
  sample(): void {
    const t = this.now();
    const seconds = Math.max(0.001, (t - this.#lastTime) / 1000);
    this.#lastTime = t;
    this.clock.advance(t);

    const rates = new Map<string, number>();
    for (const cls of ["2xx", "3xx", "4xx", "5xx"]) {
      const n = this.log.byStatusClass.get(cls) ?? 0;
      rates.set(cls, (n - (this.#lastRequests.get(cls) ?? 0)) / seconds);
    }
    this.#lastRequests = new Map(this.log.byStatusClass);
    this.requests.record(rates);

    const f = this.frontend;
    if (!f?.sources) return;
    this.queue.record(new Map(f.sources.queuedByTenant().map((q) => [q.tenant, q.queued])));
    const tick = f.usage.tick();
    // Querier time per second of wall time: the number of querier slots busy on average.
    const slots = (m: Map<string, number>) => new Map([...m].map(([k, ms]) => [k, ms / 1000 / seconds]));
    this.busy.record(slots(tick.busyByTenant));
    this.actors.record(new Map([...tick.busyByActor].map(([tenant, m]) => [tenant, slots(m)])));
    const healthy = f.sources.queriers().filter((q) => q.healthy);
    this.slots.record(new Map([["capacity", healthy.reduce((n, q) => n + q.maxConcurrent, 0)]]));
    this.held.record(new Map([["held back", f.heldPieces]]));

    const waits = tick.waits.sort((a, b) => a - b);
    const q = (p: number) => (waits.length ? waits[Math.min(waits.length - 1, Math.floor(p * waits.length))]! : NaN);
    this.wait.record(
      new Map([
        ["p50", q(0.5) / 1000],
        ["p99", q(0.99) / 1000],
        ["oldest waiting", tick.oldestWaitingMs / 1000],
      ]),
      NaN,
    );

    const c = f.cacheTally;
    const d = {
      hit: c.hit - this.#lastCache.hit,
      partial: c.partial - this.#lastCache.partial,
      miss: c.miss - this.#lastCache.miss,
    };
    this.#lastCache = { ...c };
    const pieces = d.hit + d.partial + d.miss;
    // No pieces looked up: a gap, not a ratio of 0.
    this.cache.record(new Map([["hit ratio", pieces ? (100 * d.hit) / pieces : NaN]]), NaN);
  }

  /** The samples after `after` (a sequence number the page got before), and the breakdown of `tenant`'s actors. */
  read(after: number, tenant?: string) {
    const seqs = this.clock.since(after);
    const chart = (set: SeriesSet | undefined) => set?.read(seqs) ?? [];
    return {
      now: this.now(),
      seq: this.clock.seq - 1,
      intervalMs: this.opts.intervalMs,
      windowMs: this.opts.windowMs,
      times: seqs.map((s) => this.clock.times[s % this.clock.capacity]! / 1000),
      charts: {
        requests: chart(this.requests),
        queue: chart(this.queue),
        busy: chart(this.busy),
        actors: tenant === undefined ? [] : chart(this.actors.get(tenant)),
        slots: chart(this.slots),
        held: chart(this.held),
        wait: chart(this.wait),
        cache: chart(this.cache),
      },
    };
  }
}
