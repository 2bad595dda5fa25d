import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { FrontendConfig } from "../../config/schema.js";
import { ApiError } from "../../http/errors.js";
import type { Identity } from "../../identity/signed-identity.js";
import {
  type Answer,
  encodeJobMessage,
  isFinal,
  type JobRecord,
  type JobSpec,
  type JobState,
  recordKey,
  sameOwner,
} from "./record.js";
import { freeSlot, takeSlot } from "./slots.js";
import { type JobStore, modify } from "./store.js";
import { JobWorkers, type RunJob } from "./job-workers.js";
import { fallbackLog } from "../../observability/log.js";

export type { Answer, JobRecord, JobState } from "./record.js";

type Options = FrontendConfig["async"];

/** The claim of a silent replica lapses after 3 heartbeats: then another replica takes the job. */
export const ackWaitOf = (opts: Options) => 3 * opts.heartbeat;

/**
 * Asynchronous queries: submit stores the job's record and queues the job; any replica's workers
 * run it through the same pipeline (same fair queue, under the submitter's actor path) with its own
 * deadline; any replica answers polls and takes cancels. Jobs of another identity are reported as
 * unknown. Store outages answer 503, never 500.
 */
export class AsyncJobs {
  readonly workers: JobWorkers;
  readonly #finished = new EventEmitter();

  constructor(
    readonly store: JobStore,
    readonly opts: Options,
    run: RunJob,
    /** Told each job's final state (metrics), and what to log. */
    readonly hooks: { finished?: (state: JobState) => void; log?: (line: string) => void } = {},
    readonly now: () => number = Date.now,
  ) {
    this.#finished.setMaxListeners(0);
    const replica = randomBytes(6).toString("hex");
    const log = hooks.log ?? fallbackLog;
    this.workers = new JobWorkers(
      store,
      opts,
      run,
      replica,
      {
        log,
        finished: (id, state) => {
          hooks.finished?.(state);
          this.#finished.emit(id);
        },
      },
      now,
    );
    this.workers.start();
  }

  /**
   * Stores the job's record and queues the job; the ticket is valid only once both are stored.
   * Throws ApiError 429 over the per-tenant or per-actor limit, 503 when the store cannot take it.
   */
  async submit(who: Identity, spec: JobSpec): Promise<JobRecord> {
    const t = this.now();
    const record: JobRecord = {
      id: randomBytes(18).toString("base64url"), // 144 bits
      tenants: [...who.tenants].sort(),
      subject: who.subject,
      actorPath: who.actorPath,
      state: "queued",
      progress: { splitsDone: 0, splitsTotal: 0 },
      submittedAt: t,
      expiresAt: t + this.opts.deadline + this.opts.keep_alive,
      heartbeatAt: t,
      attempt: 0,
    };
    await this.#available("store the asynchronous query", async () => {
      await takeSlot(this.store, this.opts, record, t + this.opts.deadline + ackWaitOf(this.opts), t);
      try {
        await this.store.create(recordKey(record.id), record);
        await this.store.enqueue(encodeJobMessage(record.id, spec));
      } catch (e) {
        // Nothing half-stored: a record without its job would say "queued" for ever.
        await Promise.allSettled([this.store.delete(recordKey(record.id)), freeSlot(this.store, record)]);
        throw e;
      }
    });
    return record;
  }

  /** Whether the job ends within `ms` (on this replica or another). */
  async endsWithin(id: string, ms: number): Promise<boolean> {
    const until = this.now() + ms;
    for (;;) {
      // The store away for a moment: not ended (yet); asked again until `ms` is up.
      const r = await this.store.get<JobRecord>(recordKey(id)).catch(() => undefined);
      if (r && isFinal(r.value.state)) return true;
      const left = until - this.now();
      if (left <= 0) return false;
      // Woken at once when this replica ends it; otherwise, look again shortly.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(
          () => {
            this.#finished.off(id, done);
            resolve();
          },
          Math.min(left, 250),
        );
        this.#finished.once(id, done);
      });
    }
  }

  /** The job as its owner may see it; undefined for unknown, expired, cancelled or someone else's. */
  async status(id: string, who: Identity): Promise<JobRecord | undefined> {
    const local = this.workers.running.get(id)?.record;
    const r =
      local ??
      (await this.#available("read the asynchronous query", () => this.store.get<JobRecord>(recordKey(id))))?.value;
    if (!r || !sameOwner(r, who) || r.expiresAt < this.now() || r.state === "cancelled") return undefined;
    if (!isFinal(r.state) && this.now() > r.submittedAt + this.opts.deadline + ackWaitOf(this.opts))
      // No replica ran it to its end in time (all stopped, or the store was away): say so.
      return {
        ...r,
        state: "failed",
        error: `the query did not finish within its deadline of ${this.opts.deadline / 1000}s; resubmit it`,
      };
    return r;
  }

  async answer(r: JobRecord): Promise<Answer | undefined> {
    if (r.answer) {
      const { name, status, contentType } = r.answer;
      const body = await this.#available("read the answer", () => this.store.getAnswer(name));
      return body && { status, contentType, body };
    }
    return r.error
      ? {
          status: 500,
          contentType: "application/json",
          body: JSON.stringify({ status: "error", errorType: "internal", error: r.error }),
        }
      : undefined;
  }

  /** Copies of the records of the jobs this replica is running, for operators (the admin listener). */
  list(): JobRecord[] {
    return [...this.workers.running.values()].map(({ record }) => ({
      ...record,
      tenants: [...record.tenants],
      progress: { ...record.progress },
    }));
  }

  /** Cancels the owner's job: marks its record, and the replica running it aborts its sub-queries at once. */
  async cancel(id: string, who: Identity): Promise<boolean> {
    if (!(await this.status(id, who))) return false;
    let before: JobRecord | undefined;
    await this.#available("cancel the asynchronous query", async () => {
      await modify<JobRecord>(this.store, recordKey(id), (r) => {
        before = r;
        if (!r || r.state === "cancelled") return undefined;
        const t = this.now();
        return { ...r, state: "cancelled", finishedAt: t, expiresAt: t + this.opts.keep_alive };
      });
    });
    if (!before || before.state === "cancelled") return false;
    this.workers.stop(id, "cancelled");
    this.hooks.finished?.("cancelled");
    // The record says cancelled already: whatever fails below only delays the abort or the cleanup.
    await Promise.allSettled([
      this.store.announceCancel(id),
      freeSlot(this.store, before),
      before.answer ? this.store.deleteAnswer(before.answer.name) : undefined,
    ]);
    return true;
  }

  /** Shutting down: running jobs go back to the work queue, for another replica. */
  async close(): Promise<void> {
    await this.workers.close();
    await this.store.close();
    await this.workers.stopped();
  }

  async #available<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if (e instanceof ApiError) throw e;
      // The detail names servers (and may hold credentials in a URL): operators read it, clients do not.
      (this.hooks.log ?? fallbackLog)(`async store: cannot ${what}: ${String(e).slice(0, 500)}`);
      throw new ApiError(
        "unavailable",
        `cannot ${what}: the async store is unavailable; try again shortly, or run the query without async=true`,
        { "retry-after": "5" },
      );
    }
  }
}
