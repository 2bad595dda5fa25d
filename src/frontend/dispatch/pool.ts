import type { FrontendConfig } from "../../config/schema.js";
import { ApiError } from "../../http/errors.js";
import type { Codec } from "../api/codec.js";
import type { QueuedRequest, RequestQueue } from "../queue/queue.js";
import {
  addProcessed,
  type Api,
  type Handler,
  type QueryContext,
  type QueryRequest,
  type QueryResponse,
} from "../types.js";
import type { FrontendMetrics, QuerierView } from "../../observability/metrics.js";
import { admit, occupy, release } from "./admission.js";
import { callQuerier, QuerierFailure } from "./querier.js";
import { QuerierEntries } from "./querier-entries.js";
import { refusalError } from "./refusal.js";

/** A querier's slots and health, as the pool keeps them (and operators see them). */
export type QuerierState = QuerierView & {
  /** The `queriers` entry it came from: its configured slots and health paths. */
  entry: number;
  draining: boolean;
};

/** A querier's slots as configured, or this replica's share of them (several replicas). */
export interface SlotCount {
  maxConcurrent: number;
  idleActorSlots: number;
}

/** A piece of a query waiting in the fair queue for a querier slot (the async query is async/jobs.ts). */
export interface SubQuery extends QueuedRequest {
  /** Queriers that already failed this sub-query: another is preferred. */
  avoid: Set<string>;
  start(querier: QuerierState): void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/**
 * The queriers and their free slots. Whenever a slot frees or a sub-query arrives, the queue is asked
 * for the next sub-query for a querier with a free slot (the queue decides whose turn it is; the pool
 * decides where it runs). Failed sub-queries are retried on another querier, with backoff.
 */
export class QuerierPool {
  /** Every querier known now, draining ones included (in the order they were found). */
  readonly queriers: QuerierState[] = [];
  readonly #entries: QuerierEntries;
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  /** This replica's share of a querier's configured slots (all of them when it runs alone). */
  #share: (querierId: string, slots: SlotCount) => SlotCount = (_, slots) => slots;
  #started = false;

  constructor(
    readonly config: FrontendConfig,
    readonly queue: RequestQueue<SubQuery>,
    readonly codecs: Record<Api, Codec>,
    readonly metrics?: FrontendMetrics,
    /** How queriers are reached (demo mode answers its demo querier in this process). */
    readonly fetch: typeof globalThis.fetch = globalThis.fetch,
    /** Told when a querier turns unhealthy and healthy again, and what querier discovery finds. */
    readonly log: (line: string) => void = () => {},
  ) {
    // A querier's ID is its URL: stable across restarts and replicas, which shuffle sharding and the budget need.
    this.#entries = new QuerierEntries(config, (entry, change) => this.#found(entry, change), {
      log,
      failed: (entry) => metrics?.discoveryFailures.inc({ entry }),
    });
    this.#entries.applyStatic();
    // Every querier known so far, once (those found later are checked as they come).
    void this.checkHealth();
    this.#started = true;
    this.#every(config.health_check.interval, () => this.checkHealth());
    if (this.#entries.discovers) {
      void this.discover();
      this.#every(config.discovery.refresh_interval, () => this.discover());
    }
  }

  #every(ms: number, run: () => Promise<void>): void {
    const timer = setInterval(() => void run(), ms);
    timer.unref?.();
    this.#timers.push(timer);
  }

  close(): void {
    this.#entries.close();
    for (const t of this.#timers) clearInterval(t);
  }

  /** A querier's slots as its entry configures them. */
  configured(q: QuerierState): SlotCount {
    const c = this.config.queriers[q.entry]!;
    return { maxConcurrent: c.max_concurrent, idleActorSlots: c.idle_actor_slots };
  }

  /**
   * This replica's share of each querier's slots, when several replicas share the queriers; kept for queriers
   * found later. A grown share starts queued work at once; a shrunk one takes no new work until enough running
   * work ends.
   */
  shareBy(share: (querierId: string, slots: SlotCount) => SlotCount): void {
    this.#share = share;
    for (const q of this.queriers) Object.assign(q, share(q.id, this.configured(q)));
    this.#pump();
  }

  /** Looks up every dns entry once; a failed lookup keeps that entry's last good set (and says why). */
  discover(): Promise<void> {
    return this.#entries.refresh();
  }

  /**
   * Entry `entry` changed: new queriers get their slots at once; queriers no longer found drain (their
   * running sub-queries finish, nothing new starts there) and are forgotten when the last one ends.
   */
  #found(entry: number, { added, removed }: { added: string[]; removed: string[] }): void {
    const fresh: QuerierState[] = [];
    for (const url of added) {
      const known = this.queriers.find((q) => q.id === url);
      if (known) {
        if (known.draining) Object.assign(known, { draining: false, entry });
        continue;
      }
      const q: QuerierState = {
        id: url,
        url,
        entry,
        draining: false,
        maxConcurrent: 0,
        idleActorSlots: 0,
        inflight: 0,
        extraInflight: 0,
        healthy: true,
        failures: 0,
      };
      Object.assign(q, this.#share(q.id, this.configured(q)));
      this.queriers.push(q);
      fresh.push(q);
    }
    for (const url of removed) {
      const q = this.queriers.find((x) => x.id === url && x.entry === entry);
      if (!q) continue;
      // Another entry still lists it: it stays, as that entry's.
      const other = this.#entries.listing(url);
      if (other >= 0) q.entry = other;
      else {
        q.draining = true;
        this.#forgetIfDrained(q);
      }
    }
    this.queue.queriersChanged?.(this.queriers.filter((q) => !q.draining).map((q) => q.id));
    if (fresh.length && this.#started) void this.checkHealth(fresh);
    this.#pump();
  }

  #forgetIfDrained(q: QuerierState): void {
    if (!q.draining || q.inflight > 0) return;
    const i = this.queriers.indexOf(q);
    if (i >= 0) this.queriers.splice(i, 1);
  }

  /** Undefined when queries can be served; otherwise why not (readiness). */
  notReady(): string | undefined {
    const unresolved = this.#entries.unresolved();
    // A dns entry that never found a querier is a mistake to show at start-up, whatever the other entries do.
    if (unresolved.length) return `querier discovery found nothing yet: ${unresolved.join("; ")}`;
    return this.#noQuerier();
  }

  /** Undefined when at least one querier can take work; otherwise why none can. */
  #noQuerier(): string | undefined {
    const active = this.queriers.filter((q) => !q.draining);
    if (active.some((q) => q.healthy)) return undefined;
    if (active.length === 0) return "no querier: querier discovery has found none";
    return `no healthy querier: ${active.map((q) => `${q.url} (${q.lastError ?? "unhealthy"})`).join("; ")}`;
  }

  readonly dispatch: Handler = async (req, ctx) => {
    const avoid = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#once(req, ctx, avoid);
      } catch (e) {
        if (!(e instanceof QuerierFailure) || ctx.signal.aborted) throw e;
        if (attempt >= this.config.retries) {
          if (e.response) return e.response;
          throw new ApiError("bad_gateway", `${e.message} (after ${attempt} attempts)`);
        }
        ctx.stats.retries++;
        this.metrics?.retries.inc();
        // Exponential backoff with jitter, capped: 100 ms, 200 ms, 400 ms… up to 2 s.
        await sleep(Math.min(2000, 100 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2), ctx.signal);
      }
    }
  };

  #once(req: QueryRequest, ctx: QueryContext, avoid: Set<string>): Promise<QueryResponse> {
    const reason = this.#noQuerier();
    if (reason) return Promise.reject(new ApiError("unavailable", reason, { "retry-after": "5" }));
    return new Promise<QueryResponse>((resolve, reject) => {
      const onAbort = () => {
        this.queue.remove(subQuery);
        this.metrics?.discarded.inc({
          user: subQuery.tenant,
          reason:
            ctx.signal.reason instanceof DOMException && ctx.signal.reason.name === "TimeoutError"
              ? "timeout"
              : "cancelled",
        });
        reject(ctx.signal.reason);
      };
      const subQuery: SubQuery = {
        tenant: ctx.identity.tenants.join("|"),
        actorPath: ctx.identity.actorPath.split("|"),
        enqueuedAt: Date.now(),
        signal: ctx.signal,
        avoid,
        start: (querier) => {
          ctx.signal.removeEventListener("abort", onAbort);
          const waited = Date.now() - subQuery.enqueuedAt;
          ctx.stats.queueWaitMs += waited;
          this.metrics?.queueDuration.observe(waited / 1000);
          const headers = new Headers(ctx.forwardHeaders);
          headers.set("x-scope-orgid", subQuery.tenant);
          headers.set("x-loki-actor-path", ctx.identity.actorPath);
          headers.set("x-query-queue-time", `${waited}ms`);
          const began = Date.now();
          const extra = occupy(querier);
          const codec = this.codecs[req.api];
          let answer: QueryResponse | undefined;
          callQuerier(querier.url, codec.toQuerier(req), headers, ctx.signal, this.fetch)
            .then(
              (res) => {
                querier.failures = 0;
                answer = res;
                resolve(res);
              },
              (e: unknown) => {
                if (e instanceof QuerierFailure) {
                  avoid.add(querier.id);
                  if (!e.response) this.#failed(querier, e.message); // unreachable, not merely 5xx
                }
                reject(e);
              },
            )
            .finally(() => {
              // Charged what the querier says it spent, when it says (its own queue wait is not ours to charge).
              const wall = Date.now() - began;
              const used = answer && codec.querierTimeMs ? codec.querierTimeMs(answer, wall) : wall;
              ctx.stats.querierMs += used;
              if (answer) addProcessed(ctx.stats, codec.processed?.(answer));
              this.queue.finished(subQuery, used);
              this.metrics?.querierTime.inc({ user: subQuery.tenant }, used / 1000);
              release(querier, extra);
              this.#forgetIfDrained(querier);
              this.#pump();
            });
        },
      };
      const refused = this.queue.enqueue(subQuery);
      if (refused) {
        this.metrics?.discarded.inc({ user: subQuery.tenant, reason: refused.reason });
        throw refusalError(refused);
      }
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      this.#pump();
    });
  }

  #pump(): void {
    admit(this.queriers, this.queue, (subQuery, querier) => subQuery.start(querier as QuerierState));
  }

  #failed(q: QuerierState, error: string): void {
    q.failures++;
    q.lastError = error;
    if (q.failures >= this.config.health_check.unhealthy_after && q.healthy) {
      q.healthy = false;
      this.log(`querier ${q.url} is unhealthy: ${error}`);
    }
  }

  async checkHealth(queriers: QuerierState[] = this.queriers): Promise<void> {
    const timeout = this.config.health_check.timeout;
    const fetch = this.fetch;
    await Promise.all(
      queriers.map(async (q) => {
        if (q.draining) return;
        const errors: string[] = [];
        for (const path of this.config.queriers[q.entry]!.health_paths) {
          try {
            const res = await fetch(new URL(path, q.url.endsWith("/") ? q.url : `${q.url}/`), {
              signal: AbortSignal.timeout(timeout),
            });
            await res.body?.cancel();
            if (res.ok) {
              const wasDown = !q.healthy;
              q.healthy = true;
              q.failures = 0;
              q.lastError = undefined;
              if (wasDown) {
                this.log(`querier ${q.url} is healthy again`);
                this.#pump();
              }
              return;
            }
            errors.push(`${path} answered ${res.status}`);
          } catch (e) {
            errors.push(`${path}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
          }
        }
        this.#failed(q, errors.join(", "));
      }),
    );
  }
}
