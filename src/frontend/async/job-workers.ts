import type { FrontendConfig } from "../../config/schema.js";
import { ApiError, errorBody } from "../../http/errors.js";
import {
  type Answer,
  decodeJobMessage,
  isFinal,
  type JobRecord,
  type JobSpec,
  type JobState,
  recordKey,
} from "./record.js";
import { freeSlot } from "./slots.js";
import { Conflict, type Delivery, type JobStore } from "./store.js";

/** Runs one asynchronous query to its answer (the query routes build it from the pipeline). */
export type RunJob = (
  spec: JobSpec,
  signal: AbortSignal,
  progress: (done: number, total: number) => void,
) => Promise<Answer>;

export interface WorkerHooks {
  /** Told each job's final state as this replica settles it (metrics). */
  finished?: (id: string, state: JobState) => void;
  log: (line: string) => void;
}

/** A job that three replicas took and none finished is taken to be what stopped them. */
export const MAX_ATTEMPTS = 3;

/** Why a running job stopped before its end. */
type Stop = "cancelled" | "taken over" | "shutdown";

export interface RunningJob {
  record: JobRecord;
  revision: number;
  controller: AbortController;
  stop?: Stop;
  /** Settles when the job has left this replica. */
  ended?: Promise<void>;
  /** Its end is being stored: heartbeats renew the claim only. */
  storing?: boolean;
}

type Options = FrontendConfig["async"];

/**
 * The replica's job runners: `workers` loops, each taking one job at a time from the work queue and
 * running it through the pipeline. While a job runs, its claim on the message and its record are
 * renewed every heartbeat; its end is written by compare-and-set on the record's revision, so that of
 * two replicas that both ran a job (one thought dead), exactly one answer is kept.
 */
export class JobWorkers {
  readonly running = new Map<string, RunningJob>();
  readonly #loops: Promise<void>[] = [];
  #closed = false;
  #outage = false;

  constructor(
    readonly store: JobStore,
    readonly opts: Options,
    readonly run: RunJob,
    readonly replica: string,
    readonly hooks: WorkerHooks,
    readonly now: () => number = Date.now,
  ) {
    store.onCancel((id) => this.stop(id, "cancelled"));
  }

  start(): void {
    for (let i = 0; i < this.opts.job_workers; i++) this.#loops.push(this.#loop());
  }

  /** Aborts a job this replica runs; false when it runs elsewhere or not at all. */
  stop(id: string, why: Stop): boolean {
    const job = this.running.get(id);
    if (!job || job.stop) return false;
    job.stop = why;
    // Polls on this replica read the running job's record: a cancelled job is gone at once.
    if (why === "cancelled") job.record.state = "cancelled";
    job.controller.abort(new Error(why));
    return true;
  }

  /** Stops taking jobs and gives the running ones back to the work queue, for another replica. */
  async close(): Promise<void> {
    this.#closed = true;
    const ending = [...this.running.values()].map((j) => j.ended);
    for (const id of this.running.keys()) this.stop(id, "shutdown");
    await Promise.allSettled(ending);
  }

  /** Settles once every loop has stopped (after close(), once the store no longer hands out jobs). */
  stopped(): Promise<unknown> {
    return Promise.allSettled(this.#loops);
  }

  async #loop(): Promise<void> {
    while (!this.#closed) {
      let delivery: Delivery | undefined;
      try {
        delivery = await this.store.next(2_000);
        if (this.#outage) this.hooks.log("async: taking jobs from the store again");
        this.#outage = false;
      } catch (e) {
        if (this.#closed) return;
        // Once per outage, not once per worker and second.
        if (!this.#outage) this.hooks.log(`async: cannot take jobs from the store (${String(e)}); retrying`);
        this.#outage = true;
        await sleep(1_000);
        continue;
      }
      if (delivery) await this.#take(delivery).catch((e) => this.hooks.log(`async: job runner error: ${String(e)}`));
    }
  }

  async #take(d: Delivery): Promise<void> {
    const message = decodeJobMessage(d.data);
    if ("problem" in message) {
      // Never retried: a message no replica can run would come back after every ack wait.
      d.term(message.problem);
      this.hooks.log(`async: dead-lettered a message on the work queue: ${message.problem}`);
      return;
    }
    if (this.#closed) return d.nak();
    const claim = await this.#claim(message.id);
    if (claim === undefined) return void (await d.ack()); // finished, cancelled or expired meanwhile
    if ("failed" in claim) {
      await this.#settle(claim.failed, "failed");
      return void (await d.ack());
    }
    const job: RunningJob = { ...claim, controller: new AbortController() };
    this.running.set(message.id, job);
    job.ended = this.#runClaimed(job, message.spec, d).finally(() => this.running.delete(message.id));
    await job.ended;
  }

  /** Marks the record as run by this replica (another attempt), or says why it will not run. */
  async #claim(id: string): Promise<{ record: JobRecord; revision: number } | { failed: JobRecord } | undefined> {
    for (;;) {
      const current = await this.store.get<JobRecord>(recordKey(id));
      if (!current || isFinal(current.value.state)) return undefined;
      const r = current.value;
      const t = this.now();
      const why =
        t > r.submittedAt + this.opts.deadline
          ? this.#pastDeadline()
          : r.attempt >= MAX_ATTEMPTS
            ? `the query stopped ${r.attempt} frontends running it; narrow it, or ask an operator`
            : undefined;
      const next: JobRecord = why
        ? this.#ended(r, "failed", why)
        : {
            ...r,
            state: "running",
            attempt: r.attempt + 1,
            replica: this.replica,
            startedAt: r.startedAt ?? t,
            heartbeatAt: t,
            progress: { splitsDone: 0, splitsTotal: 0 },
          };
      try {
        const revision = await this.store.update(recordKey(id), next, current.revision);
        return why ? { failed: next } : { record: next, revision };
      } catch (e) {
        if (!(e instanceof Conflict)) throw e;
      }
    }
  }

  async #runClaimed(job: RunningJob, spec: JobSpec, d: Delivery): Promise<void> {
    const r = job.record;
    const deadline = AbortSignal.timeout(Math.max(0, r.submittedAt + this.opts.deadline - this.now()));
    const signal = AbortSignal.any([job.controller.signal, deadline]);
    let beat: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      beat = beat.then(() => this.#heartbeat(job, d));
    }, this.opts.heartbeat);
    timer.unref?.();

    let answer: Answer | undefined;
    let state: JobState = "done";
    let error: string | undefined;
    const render = (e: ApiError): Answer => ({ status: e.status, ...errorBody(e, spec.path) });
    try {
      answer = await this.run(spec, signal, (splitsDone, splitsTotal) => {
        r.progress = { splitsDone, splitsTotal };
      });
      const bytes = typeof answer.body === "string" ? Buffer.byteLength(answer.body) : answer.body.byteLength;
      if (bytes > this.opts.max_result_bytes) {
        error =
          `the result is ${bytes} bytes, over max_result_bytes (${this.opts.max_result_bytes}); ` +
          "narrow the time range or the query";
        answer = render(new ApiError("too_large", error));
      }
      if (answer.status >= 300) {
        state = "failed";
        error ??= `the query failed with status ${answer.status}`;
      }
    } catch (e) {
      state = "failed";
      // Past its deadline the query timed out (504, as a synchronous query would), whatever the abort threw.
      const why = deadline.aborted
        ? new ApiError("timeout", this.#pastDeadline())
        : e instanceof ApiError
          ? e
          : new ApiError("internal", String(e));
      error = why.message;
      answer = render(why);
    }
    // Storing a large answer takes a while: the claim is still renewed meanwhile (the message only;
    // the record is written once, by the final compare-and-set), or another replica would take the job.
    job.storing = true;
    try {
      if (job.stop === "shutdown") return d.nak(); // another replica runs it again at once
      if (job.stop === "taken over") return; // the replica that took it owns the message now
      if (job.stop === "cancelled") return void (await this.#ack(d, job.record.id));
      if (await this.#store(job, state, answer, error)) await this.#ack(d, job.record.id);
    } finally {
      clearInterval(timer);
      await beat;
    }
  }

  /** Renews the claim and shares the progress; notices a cancel or a takeover it missed. */
  async #heartbeat(job: RunningJob, d: Delivery): Promise<void> {
    if (job.stop) return;
    try {
      d.working();
      if (job.storing) return;
      job.record.heartbeatAt = this.now();
      job.revision = await this.store.update(recordKey(job.record.id), job.record, job.revision);
    } catch (e) {
      if (!(e instanceof Conflict)) return; // the store is away for now: the next heartbeat tries again
      // Unreadable now: taken as gone, as the store's answer would be; the next heartbeat looks again.
      const current = await this.store.get<JobRecord>(recordKey(job.record.id)).catch(() => undefined);
      if (!current || current.value.state === "cancelled") this.stop(job.record.id, "cancelled");
      else if (current.value.attempt !== job.record.attempt) this.stop(job.record.id, "taken over");
      else job.revision = current.revision;
    }
  }

  /**
   * Stores the answer under this attempt's name, then the final record if the record is still this
   * attempt's (compare-and-set); true once stored. Outages of the store are waited out until the
   * job's deadline; an attempt that lost drops its answer.
   */
  async #store(job: RunningJob, state: JobState, answer: Answer | undefined, error: string | undefined) {
    const r = job.record;
    const name = `${r.id}.${r.attempt}`;
    const until = r.submittedAt + this.opts.deadline;
    const final = this.#ended(r, state, error);
    if (answer) {
      const body = typeof answer.body === "string" ? new TextEncoder().encode(answer.body) : answer.body;
      if (!(await this.#persist(until, () => this.store.putAnswer(name, body)))) return false;
      final.answer = { status: answer.status, contentType: answer.contentType, name };
    }
    for (;;) {
      try {
        if (!(await this.#persist(until, () => this.store.update(recordKey(r.id), final, job.revision)))) return false;
        Object.assign(r, final); // polls on this replica read the running job's record until it leaves
        break;
      } catch (e) {
        if (!(e instanceof Conflict)) throw e;
        const current = await this.store.get<JobRecord>(recordKey(r.id));
        if (!current || current.value.attempt !== r.attempt || isFinal(current.value.state)) {
          if (answer)
            await this.store
              .deleteAnswer(name)
              .catch((e) => this.hooks.log(`async: cannot delete the unused answer ${name}: ${String(e)}`));
          return current?.value.state === "cancelled";
        }
        job.revision = current.revision;
      }
    }
    await this.#settle(final, state);
    return true;
  }

  /** Acknowledges a job's message; one that cannot be comes back after its ack wait and is seen to be done. */
  async #ack(d: Delivery, id: string): Promise<void> {
    await d.ack().catch((e) => this.hooks.log(`async: cannot acknowledge job ${id} (it comes back): ${String(e)}`));
  }

  async #settle(r: JobRecord, state: JobState): Promise<void> {
    await freeSlot(this.store, r).catch(() => {}); // a slot left behind lapses at the job's deadline
    this.hooks.finished?.(r.id, state);
  }

  /** Runs `write` until it succeeds (true) or `until` passes (false); a lost compare-and-set is thrown. */
  async #persist(until: number, write: () => Promise<unknown>): Promise<boolean> {
    for (let pause = 100; ; pause = Math.min(2 * pause, 2_000)) {
      try {
        await write();
        return true;
      } catch (e) {
        if (e instanceof Conflict) throw e;
        if (this.now() > until || this.#closed) {
          this.hooks.log(`async: could not store a job's end (${String(e)}); another replica will run it again`);
          return false;
        }
        await sleep(pause);
      }
    }
  }

  #ended(r: JobRecord, state: JobState, error?: string): JobRecord {
    const t = this.now();
    return { ...r, state, finishedAt: t, expiresAt: t + this.opts.keep_alive, ...(error ? { error } : {}) };
  }

  #pastDeadline = () => `the query ran past its deadline of ${this.opts.deadline / 1000}s; narrow the time range`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
