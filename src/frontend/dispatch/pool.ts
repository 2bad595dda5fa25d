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

/** A querier's slots and health, as the pool keeps them (and operators see them). */
export type QuerierState = QuerierView;

export interface Job extends QueuedRequest {
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
 * The queriers and their free slots. Whenever a slot frees or a job arrives, the queue is asked
 * for the next job for a querier with a free slot (the queue decides whose turn it is; the pool
 * decides where it runs). Failed sub-queries are retried on another querier, with backoff.
 */
export class QuerierPool {
  readonly queriers: QuerierState[];
  readonly #timer?: ReturnType<typeof setInterval>;

  constructor(
    readonly config: FrontendConfig,
    readonly queue: RequestQueue<Job>,
    readonly codecs: Record<Api, Codec>,
    readonly metrics?: FrontendMetrics,
    /** How queriers are reached (demo mode answers its demo querier in this process). */
    readonly fetch: typeof globalThis.fetch = globalThis.fetch,
    /** Told when a querier turns unhealthy and healthy again. */
    readonly log: (line: string) => void = () => {},
  ) {
    // A querier's ID is its URL: stable across restarts and replicas, which shuffle sharding needs.
    this.queriers = config.queriers.map((q) => ({
      id: q.url,
      url: q.url,
      maxConcurrent: q.max_concurrent,
      idleActorSlots: q.idle_actor_slots,
      inflight: 0,
      extraInflight: 0,
      healthy: true,
      failures: 0,
    }));
    void this.checkHealth();
    this.#timer = setInterval(() => void this.checkHealth(), config.health_check.interval);
    this.#timer.unref?.();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /**
   * This replica's share of each querier's slots (in config order), when several replicas share the queriers.
   * A grown share starts queued work at once; a shrunk one takes no new work until enough running work ends.
   */
  share(slots: { maxConcurrent: number; idleActorSlots: number }[]): void {
    slots.forEach((s, i) => {
      const q = this.queriers[i]!;
      q.maxConcurrent = s.maxConcurrent;
      q.idleActorSlots = s.idleActorSlots;
    });
    this.#pump();
  }

  /** Undefined when at least one querier is healthy; otherwise why none is. */
  notReady(): string | undefined {
    if (this.queriers.some((q) => q.healthy)) return undefined;
    return `no healthy querier: ${this.queriers.map((q) => `${q.url} (${q.lastError ?? "unhealthy"})`).join("; ")}`;
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
    const reason = this.notReady();
    if (reason) return Promise.reject(new ApiError("unavailable", reason, { "retry-after": "5" }));
    return new Promise<QueryResponse>((resolve, reject) => {
      const onAbort = () => {
        this.queue.remove(job);
        this.metrics?.discarded.inc({
          user: job.tenant,
          reason:
            ctx.signal.reason instanceof DOMException && ctx.signal.reason.name === "TimeoutError"
              ? "timeout"
              : "cancelled",
        });
        reject(ctx.signal.reason);
      };
      const job: Job = {
        tenant: ctx.identity.tenants.join("|"),
        actorPath: ctx.identity.actorPath.split("|"),
        enqueuedAt: Date.now(),
        signal: ctx.signal,
        avoid,
        start: (querier) => {
          ctx.signal.removeEventListener("abort", onAbort);
          const waited = Date.now() - job.enqueuedAt;
          ctx.stats.queueWaitMs += waited;
          this.metrics?.queueDuration.observe(waited / 1000);
          const headers = new Headers(ctx.forwardHeaders);
          headers.set("x-scope-orgid", job.tenant);
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
              this.queue.finished(job, used);
              this.metrics?.querierTime.inc({ user: job.tenant }, used / 1000);
              release(querier, extra);
              this.#pump();
            });
        },
      };
      try {
        this.queue.enqueue(job);
      } catch (e) {
        this.metrics?.discarded.inc({
          user: job.tenant,
          reason: e instanceof ApiError && e.status === 429 ? "too_many_outstanding" : "invalid",
        });
        throw e;
      }
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      this.#pump();
    });
  }

  #pump(): void {
    admit(this.queriers, this.queue, (job, querier) => job.start(querier as QuerierState));
  }

  #failed(q: QuerierState, error: string): void {
    q.failures++;
    q.lastError = error;
    if (q.failures >= this.config.health_check.unhealthy_after && q.healthy) {
      q.healthy = false;
      this.log(`querier ${q.url} is unhealthy: ${error}`);
    }
  }

  async checkHealth(): Promise<void> {
    const timeout = this.config.health_check.timeout;
    const fetch = this.fetch;
    await Promise.all(
      this.queriers.map(async (q, i) => {
        const errors: string[] = [];
        for (const path of this.config.queriers[i]!.health_paths) {
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
