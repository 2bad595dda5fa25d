import { randomBytes } from "node:crypto";
import type { FrontendConfig } from "../../config/schema.js";
import { ApiError } from "../../http/errors.js";
import type { Identity } from "../../identity/identity.js";
import type { StoredValues } from "../cache/stored.js";

export type JobState = "queued" | "running" | "done" | "failed" | "cancelled";

/** What any replica sharing the cache knows of a job. */
export interface JobRecord {
  id: string;
  /** Who may see it: exactly these tenants and this subject. */
  tenants: string[];
  subject: string;
  actorPath: string;
  state: JobState;
  progress: { splitsDone: number; splitsTotal: number };
  submittedAt: number;
  startedAt?: number;
  finishedAt?: number;
  expiresAt: number;
  /** Renewed while a frontend works on the job; a stale one means that frontend died. */
  heartbeatAt: number;
  cancelRequested?: boolean;
  error?: string;
  /** Status and content type of the answer; the body is stored under its own key. */
  answer?: { status: number; contentType: string };
}

export interface Answer {
  status: number;
  contentType: string;
  body: string;
}

type Options = FrontendConfig["async"];

const recordKey = (id: string) => `aj:${id}`;
const answerKey = (id: string) => `ar:${id}`;
const sameOwner = (r: JobRecord, who: Identity) =>
  r.subject === who.subject && r.tenants.join("|") === [...who.tenants].sort().join("|");

/**
 * Asynchronous queries: a job runs the same pipeline (same fair queue, under the submitter's actor
 * path) with its own deadline, and its record and answer live in the cache, so any replica sharing
 * memcached can answer a poll or take a cancel. Jobs of another identity are reported as unknown.
 */
export class AsyncJobs {
  /** Jobs this replica runs: their abort controllers, for cancels and shutdown. */
  readonly #running = new Map<
    string,
    { controller: AbortController; record: JobRecord; timer: ReturnType<typeof setInterval> }
  >();

  constructor(
    readonly store: StoredValues,
    readonly opts: Options,
    readonly now: () => number = Date.now,
    /** Told each job's final state (metrics). */
    readonly onFinished?: (state: JobState) => void,
  ) {}

  /**
   * Starts a job; throws ApiError 429 over the per-tenant or per-actor limit, 503 when its record
   * cannot be stored. `render` turns an error into the answer the synchronous query would give.
   */
  async submit(
    who: Identity,
    run: (signal: AbortSignal, progress: (done: number, total: number) => void) => Promise<Answer>,
    render: (e: ApiError) => Answer,
  ): Promise<{ record: JobRecord; done: Promise<void> }> {
    const mine = [...this.#running.values()].map((j) => j.record);
    const tenant = [...who.tenants].sort().join("|");
    if (mine.filter((r) => r.tenants.join("|") === tenant).length >= this.opts.max_jobs_per_tenant)
      throw new ApiError(
        "too_many_requests",
        `tenant ${tenant} has ${this.opts.max_jobs_per_tenant} asynchronous queries running (max_jobs_per_tenant); ` +
          `wait for one to finish or cancel one`,
        { "retry-after": "10" },
      );
    if (
      mine.filter((r) => r.actorPath === who.actorPath && r.tenants.join("|") === tenant).length >=
      this.opts.max_jobs_per_actor
    )
      throw new ApiError(
        "too_many_requests",
        `you have ${this.opts.max_jobs_per_actor} asynchronous queries running (max_jobs_per_actor); wait for one ` +
          `to finish or cancel one`,
        { "retry-after": "10" },
      );

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
    };
    // A ticket nobody could poll is worse than a refusal: without the record stored, no job starts.
    if (!(await this.#save(record)).stored)
      throw new ApiError(
        "unavailable",
        "cannot store the asynchronous query (the cache is unavailable); try again shortly, or run the query " +
          "without async=true",
        { "retry-after": "10" },
      );
    const controller = new AbortController();
    const deadline = AbortSignal.timeout(this.opts.deadline);
    const signal = AbortSignal.any([controller.signal, deadline]);
    const timer = setInterval(() => void this.#heartbeat(record.id), this.opts.heartbeat);
    timer.unref?.();
    this.#running.set(record.id, { controller, record, timer });

    const submitted = { ...record };
    const done = (async () => {
      let answer: Answer | undefined;
      let state: JobState = "done";
      let error: string | undefined;
      try {
        answer = await run(signal, (splitsDone, splitsTotal) => {
          record.progress = { splitsDone, splitsTotal };
          if (record.state === "queued") {
            record.state = "running";
            record.startedAt = this.now();
          }
        });
        const bytes = Buffer.byteLength(answer.body);
        if (bytes > this.opts.max_result_bytes) {
          error =
            `the result is ${bytes} bytes, over max_result_bytes (${this.opts.max_result_bytes}); ` +
            "narrow the time range or the query";
          answer = render(new ApiError("too_large", error));
        }
        if (answer.status >= 300) state = "failed";
        error ??= answer.status >= 300 ? `the query failed with status ${answer.status}` : undefined;
      } catch (e) {
        if (controller.signal.aborted) state = "cancelled";
        else {
          state = "failed";
          error = deadline.aborted
            ? `the query ran past its deadline of ${this.opts.deadline / 1000}s; narrow the time range`
            : e instanceof ApiError
              ? e.message
              : String(e);
          answer = render(e instanceof ApiError ? e : new ApiError("internal", error));
        }
      }
      clearInterval(timer);
      try {
        // A cancel may have come through another replica since the last heartbeat: it wins.
        const shared = (await this.store.get<JobRecord>(recordKey(record.id)))?.value;
        if (state === "cancelled" || shared?.cancelRequested) return;
        // The answer is stored before the record says so: a poll never sees "done" without it.
        if (
          answer &&
          !(await this.store.put(answerKey(record.id), answer, this.#ttl(record, this.opts.keep_alive))).stored
        ) {
          state = "failed";
          error = "the result could not be stored in the cache; resubmit the query";
          answer = undefined;
        }
        if (answer) record.answer = { status: answer.status, contentType: answer.contentType };
        this.#finish(record, state, error);
        await this.#save(record);
      } finally {
        this.#running.delete(record.id);
      }
    })();
    return { record: submitted, done };
  }

  /** The job as its owner may see it; undefined for unknown, expired, cancelled or someone else's. */
  async status(id: string, who: Identity): Promise<JobRecord | undefined> {
    const local = this.#running.get(id)?.record;
    const r = local ?? (await this.store.get<JobRecord>(recordKey(id)))?.value;
    if (!r || !sameOwner(r, who) || r.expiresAt < this.now() || r.state === "cancelled") return undefined;
    if (
      (r.state === "queued" || r.state === "running") &&
      !local &&
      this.now() - r.heartbeatAt > 3 * this.opts.heartbeat
    ) {
      // The frontend running it stopped renewing its heartbeat: it died. Say so instead of "running" forever.
      this.#finish(
        r,
        "failed",
        `the frontend running this query stopped (no heartbeat since ${new Date(r.heartbeatAt).toISOString()}); ` +
          `resubmit it`,
      );
      await this.#save(r);
    }
    return r;
  }

  async answer(id: string, r: JobRecord): Promise<Answer | undefined> {
    return (
      (await this.store.get<Answer>(answerKey(id)))?.value ??
      (r.error
        ? {
            status: 500,
            contentType: "application/json",
            body: JSON.stringify({ status: "error", errorType: "internal", error: r.error }),
          }
        : undefined)
    );
  }

  /** Copies of the records of the jobs this replica is running, for operators (the admin listener). */
  list(): JobRecord[] {
    return [...this.#running.values()].map(({ record }) => ({
      ...record,
      tenants: [...record.tenants],
      progress: { ...record.progress },
    }));
  }

  /** Cancels the owner's job here, or asks the replica running it (it reads the record on its heartbeat). */
  async cancel(id: string, who: Identity): Promise<boolean> {
    const r = await this.status(id, who);
    if (!r) return false;
    const local = this.#running.get(id);
    if (local) local.controller.abort(new Error("cancelled"));
    r.cancelRequested = true;
    this.onFinished?.("cancelled");
    r.state = "cancelled";
    r.finishedAt = this.now();
    await this.#save(r);
    await this.store.cache.delete(answerKey(id));
    return true;
  }

  /** Shutting down: running jobs are reported failed at once, not after their heartbeat goes stale. */
  close(): void {
    for (const j of this.#running.values()) {
      clearInterval(j.timer);
      this.#finish(j.record, "failed", "the frontend running this query shut down; resubmit it");
      void this.#save(j.record);
      j.controller.abort(new Error("frontend shutting down"));
    }
    this.#running.clear();
  }

  async #heartbeat(id: string): Promise<void> {
    const job = this.#running.get(id);
    if (!job) return;
    const shared = (await this.store.get<JobRecord>(recordKey(id)))?.value;
    if (shared?.cancelRequested) return void job.controller.abort(new Error("cancelled"));
    job.record.heartbeatAt = this.now();
    await this.#save(job.record);
  }

  #finish(r: JobRecord, state: JobState, error?: string): void {
    this.onFinished?.(state);
    r.state = state;
    r.finishedAt = this.now();
    r.expiresAt = r.finishedAt + this.opts.keep_alive;
    if (error) r.error = error;
  }

  /** Seconds until the record expires, or until `fromNowMs` past now (an answer stored before its record finishes). */
  #ttl(r: JobRecord, fromNowMs?: number): number {
    const until = fromNowMs === undefined ? r.expiresAt : this.now() + fromNowMs;
    // One second more than needed: memcached expires on whole-second ticks, and `status` checks expiresAt exactly.
    return Math.max(1, Math.ceil((until - this.now()) / 1000)) + 1;
  }

  #save(r: JobRecord): Promise<{ stored: boolean }> {
    return this.store.put(recordKey(r.id), r, this.#ttl(r));
  }
}
