import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../src/config/load.js";
import { AsyncJobs } from "../../../../src/frontend/async/jobs.js";
import { MemoryJobStore } from "../../../../src/frontend/async/memory-store.js";
import { decodeJobMessage, type JobRecord, type JobSpec, recordKey } from "../../../../src/frontend/async/record.js";
import type { RunJob } from "../../../../src/frontend/async/job-workers.js";

const opts = parseConfig({
  frontend: {
    queriers: [{ url: "http://q" }],
    async: { heartbeat: "50ms", max_jobs_per_actor: 2, max_jobs_per_tenant: 3 },
  },
}).frontend!.async;
const alice = { subject: "alice-hash", tenants: ["team-a"], actorPath: "users|a", scopes: [] };
const carol = { subject: "carol-hash", tenants: ["team-a"], actorPath: "users|c", scopes: [] };
const specOf = (identity = alice): JobSpec => ({
  api: "prometheus",
  route: "query",
  path: "/api/v1/query",
  params: { query: "up" },
  nowNs: "1700000000000000000",
  identity,
  headers: [["x-scope-orgid", identity.tenants.join("|")]],
});
const ok = { status: 200, contentType: "application/json", body: '{"status":"success"}' };

/** A run that holds each job until the test releases it. */
function heldRuns() {
  const held: { spec: JobSpec; release: () => void; signal: AbortSignal }[] = [];
  const run: RunJob = (spec, signal) =>
    new Promise((resolve, reject) => {
      held.push({ spec, release: () => resolve(ok), signal });
      signal.addEventListener("abort", () => reject(signal.reason));
    });
  return { held, run };
}

const ended = async (jobs: AsyncJobs, id: string) => expect(await jobs.endsWithin(id, 5_000)).toBe(true);

describe("asynchronous jobs (memory store)", () => {
  it("a job past its deadline fails with 504 and says how to fix it", async () => {
    const { held, run } = heldRuns();
    const jobs = new AsyncJobs(new MemoryJobStore(60_000), { ...opts, deadline: 200 }, run);
    const { id } = await jobs.submit(alice, specOf());
    await ended(jobs, id);
    const seen = await jobs.status(id, alice);
    expect(seen).toMatchObject({ state: "failed" });
    expect(seen!.error).toMatch(/past its deadline of 0.2s; narrow the time range/);
    const answer = (await jobs.answer(seen!))!;
    expect(answer.status).toBe(504);
    expect(JSON.parse(new TextDecoder().decode(answer.body as Uint8Array))).toMatchObject({ errorType: "timeout" });
    expect(held[0]!.signal.aborted).toBe(true);
    await jobs.close();
  });

  it("runs a job to its answer and hides it from any other identity", async () => {
    const jobs = new AsyncJobs(new MemoryJobStore(60_000), opts, async () => ok);
    const record = await jobs.submit(alice, specOf());
    await ended(jobs, record.id);
    const seen = await jobs.status(record.id, alice);
    expect(seen).toMatchObject({ state: "done", attempt: 1 });
    expect(new TextDecoder().decode((await jobs.answer(seen!))!.body as Uint8Array)).toBe(ok.body);
    expect(await jobs.status(record.id, { ...alice, subject: "carol-hash" })).toBeUndefined();
    expect(await jobs.status(record.id, { ...alice, tenants: ["team-b"] })).toBeUndefined();
    expect(await jobs.status(record.id, { ...alice, tenants: ["team-a", "team-b"] })).toBeUndefined();
    expect(await jobs.cancel(record.id, carol)).toBe(false);
    await jobs.close();
  });

  it("counts limits in the store, so that every replica sharing it sees the same jobs", async () => {
    const store = new MemoryJobStore(60_000);
    const { held, run } = heldRuns();
    const [a, b] = [new AsyncJobs(store, opts, run), new AsyncJobs(store, opts, run)];
    const first = await a.submit(alice, specOf());
    await b.submit(alice, specOf());
    await expect(a.submit(alice, specOf())).rejects.toThrow(/max_jobs_per_actor/);
    await b.submit(carol, specOf(carol));
    await expect(b.submit(carol, specOf(carol))).rejects.toThrow(/max_jobs_per_tenant/);
    // A cancel on one replica frees the slot for the other.
    expect(await b.cancel(first.id, alice)).toBe(true);
    await a.submit(alice, specOf());
    await expect.poll(() => held.length).toBe(4);
    for (const h of held) h.release();
    await Promise.all([a.close(), b.close()]);
  });

  it("of two replicas that ran the same job, only the one holding the record stores its answer", async () => {
    const store = new MemoryJobStore(60_000);
    const { held, run } = heldRuns();
    const jobs = new AsyncJobs(store, { ...opts, heartbeat: 60_000 }, run);
    const { id } = await jobs.submit(alice, specOf());
    await expect.poll(() => held.length).toBe(1);
    // Another replica took the job meanwhile (this one looked dead), and finished it.
    const current = (await store.get<JobRecord>(recordKey(id)))!;
    const theirs: JobRecord = {
      ...current.value,
      attempt: 2,
      state: "done",
      answer: { status: 200, contentType: "application/json", name: `${id}.2` },
    };
    await store.putAnswer(`${id}.2`, new TextEncoder().encode("theirs"));
    await store.update(recordKey(id), theirs, current.revision);
    held[0]!.release();
    await expect.poll(() => jobs.list().length).toBe(0);
    expect((await store.get<JobRecord>(recordKey(id)))!.value).toEqual(theirs);
    expect(await store.getAnswer(`${id}.1`)).toBeUndefined(); // the loser dropped its copy
    await jobs.close();
  });

  it("dead-letters a malformed or foreign message with a log line and goes on working", async () => {
    const store = new MemoryJobStore(60_000);
    const lines: string[] = [];
    const jobs = new AsyncJobs(store, opts, async () => ok, { log: (l) => lines.push(l) });
    await store.enqueue(new TextEncoder().encode("{not json"));
    await store.enqueue(new TextEncoder().encode(JSON.stringify({ v: 1, id: "x".repeat(24), spec: { api: "sql" } })));
    const { id } = await jobs.submit(alice, specOf());
    await ended(jobs, id);
    expect(lines.filter((l) => l.includes("dead-lettered"))).toHaveLength(2);
    expect(lines.join("\n")).toMatch(/not a JSON job/);
    expect(lines.join("\n")).toMatch(/spec\.api/);
    await jobs.close();
  });

  it("decodes what it encodes and names the problem of anything else", () => {
    expect(decodeJobMessage(new Uint8Array([0xff, 0xfe]))).toEqual({ problem: "not a JSON job (2 bytes)" });
    expect(decodeJobMessage(new TextEncoder().encode('{"v":2}'))).toMatchObject({
      problem: /^not a job of this version: v/,
    });
  });

  it("a cancel aborts the running job at once and the ticket is gone", async () => {
    const { held, run } = heldRuns();
    const jobs = new AsyncJobs(new MemoryJobStore(60_000), opts, run);
    const { id } = await jobs.submit(alice, specOf());
    await expect.poll(() => held.length).toBe(1);
    expect(await jobs.cancel(id, alice)).toBe(true);
    expect(held[0]!.signal.aborted).toBe(true);
    expect(await jobs.status(id, alice)).toBeUndefined();
    expect(await jobs.cancel(id, alice)).toBe(false);
    await jobs.close();
  });
});

describe("async.store configuration", () => {
  const asyncOf = (async: Record<string, unknown>) =>
    parseConfig({ frontend: { queriers: [{ url: "http://q" }], async } }).frontend!.async;

  it("defaults to the memory store and takes the NATS settings when asked", () => {
    expect(asyncOf({}).store).toBe("memory");
    const nats = asyncOf({ store: "nats", nats: { servers: ["nats://n:4222"], token: "t" } }).nats!;
    expect(nats).toMatchObject({ prefix: "fairgate", replicas: 1, timeout: 5000, token: "t" });
  });

  it("names what is missing or contradictory", () => {
    expect(() => asyncOf({ store: "nats" })).toThrow(/frontend\.async\.nats: required when store is nats/);
    expect(() => asyncOf({ store: "nats", nats: { servers: ["n"], token: "t", credentials: "/c" } })).toThrow(
      /one of token, user\/password or credentials/,
    );
    expect(() => asyncOf({ store: "nats", nats: { servers: ["n"], prefix: "a.b" } })).toThrow(/prefix/);
  });
});
