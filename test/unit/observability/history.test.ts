import { describe, expect, it } from "vitest";
import { FairQueue } from "../../../src/frontend/queue/fair-queue.js";
import { ObservedQueue } from "../../../src/frontend/queue/observed.js";
import type { QueuedRequest } from "../../../src/frontend/queue/queue.js";
import { statusData } from "../../../src/observability/frontend-admin.js";
import { OTHERS, SampleClock, SeriesGroups, SeriesSet } from "../../../src/observability/history.js";
import { FrontendMetrics } from "../../../src/observability/metrics.js";
import { RecentTable } from "../../../src/observability/recent.js";
import { QuerierUsage } from "../../../src/observability/usage.js";

const MINUTE = 60_000;

describe("status history rings", () => {
  it("keeps the last `capacity` samples and hands out only those after a sequence number", () => {
    const clock = new SampleClock(3);
    const set = new SeriesSet(clock);
    for (let i = 1; i <= 5; i++) {
      clock.advance(i * 1000);
      set.record(new Map([["a", i]]));
    }
    expect(clock.since(-1)).toEqual([2, 3, 4]);
    expect(clock.since(3)).toEqual([4]);
    expect(clock.since(4)).toEqual([]);
    expect(set.read(clock.since(-1))).toEqual([{ key: "a", values: [3, 4, 5] }]);
  });

  it("gives the biggest keys a series each and sums the rest into others, however many keys come", () => {
    const clock = new SampleClock(10);
    const set = new SeriesSet(clock, 5);
    clock.advance(0);
    // 1,000 tenants: tenant i has i queued.
    set.record(new Map(Array.from({ length: 1000 }, (_, i) => [`t${i}`, i])));
    expect(set.size).toBe(5);
    const read = set.read(clock.since(-1));
    expect(read.map((s) => s.key)).toEqual(["t999", "t998", "t997", "t996", OTHERS]);
    const all = (999 * 1000) / 2;
    expect(read.find((s) => s.key === OTHERS)!.values[0]).toBe(all - 999 - 998 - 997 - 996);
  });

  it("keeps a key's series while it was busy in the window, and reuses it for a new key after", () => {
    const clock = new SampleClock(3);
    const set = new SeriesSet(clock, 3); // two keys and others
    const sample = (values: [string, number][]) => {
      clock.advance(clock.seq * 1000);
      set.record(new Map(values));
    };
    sample([
      ["a", 1],
      ["b", 1],
    ]);
    sample([["c", 5]]); // no room: a and b were busy within the window
    expect(set.read(clock.since(-1)).map((s) => s.key)).toEqual(["a", "b", OTHERS]);
    sample([]);
    sample([]);
    sample([["c", 5]]); // a and b have been zero for the whole window now
    expect(set.read(clock.since(3)).map((s) => s.key)).toEqual(["c"]);
    expect(set.size).toBeLessThanOrEqual(3);
  });

  it("marks samples without a value as gaps where zero would lie (a wait, a hit ratio)", () => {
    const clock = new SampleClock(4);
    const set = new SeriesSet(clock);
    clock.advance(0);
    set.record(new Map([["p50", Number.NaN]]), Number.NaN);
    clock.advance(1000);
    set.record(new Map([["p50", 0.25]]), Number.NaN);
    expect(set.read(clock.since(-1))).toEqual([{ key: "p50", values: [null, 0.25] }]);
  });

  it("keeps a breakdown for a bounded number of tenants", () => {
    const clock = new SampleClock(5);
    const groups = new SeriesGroups(clock, 20, 10);
    clock.advance(0);
    groups.record(
      new Map(
        Array.from({ length: 1000 }, (_, t) => [
          `t${t}`,
          new Map(Array.from({ length: 10 }, (_, a) => [`a${a}`, t + a / 10])),
        ]),
      ),
    );
    expect(groups.size).toBe(20);
    expect(groups.get("t999")!.size).toBe(10);
    expect(groups.get("t0")).toBeUndefined();
  });
});

describe("recently active actors", () => {
  it("lists the top actors of the window with a count of the rest, and forgets the idle ones", () => {
    const table = new RecentTable<{ actor: string }>(15 * MINUTE);
    for (let i = 0; i < 10_000; i++) table.add(`a${i}`, { actor: `a${i}` }, 0, { querierMs: i, ran: 1, waitMs: 5 });
    const top = table.top(100, 1000);
    expect(top.rows).toHaveLength(100);
    expect(top.rest).toBe(9_900);
    expect(top.rows[0]).toMatchObject({ labels: { actor: "a9999" }, querierMs: 9999, ran: 1, maxWaitMs: 5 });
    table.add("a5", { actor: "a5" }, 10 * MINUTE, { ran: 1 });
    expect(table.top(5, 16 * MINUTE).rows.map((r) => r.labels.actor)).toEqual(["a5"]);
    expect(table.size).toBe(1);
  });

  it("counts only the minutes inside the window", () => {
    const table = new RecentTable<string>(5 * MINUTE);
    table.add("k", "k", 0, { querierMs: 100, ran: 1 });
    table.add("k", "k", 4 * MINUTE, { querierMs: 10, ran: 1 });
    expect(table.get("k", 4 * MINUTE)).toMatchObject({ querierMs: 110, ran: 2 });
    expect(table.get("k", 6 * MINUTE)).toMatchObject({ querierMs: 10, ran: 1 });
  });

  it("keeps at most maxKeys, dropping the least recently active", () => {
    const table = new RecentTable<string>(MINUTE, 3);
    for (const [i, k] of ["a", "b", "c", "a", "d"].entries()) table.add(k, k, i, { ran: 1 });
    expect(table.top(10, 5).rows.map((r) => r.labels)).toEqual(["d", "a", "c"]);
  });
});

describe("querier usage", () => {
  it("charges running sub-queries as they run, and keeps actors after they finish", () => {
    let now = 0;
    const usage = new QuerierUsage(15 * MINUTE, () => now);
    const job = {};
    usage.queued(job, "team-a", ["users", "alice"]);
    now = 400;
    usage.started(job, "q1");
    now = 1400;
    const first = usage.tick();
    expect(first.waits).toEqual([400]);
    expect(first.busyByTenant.get("team-a")).toBe(1000);
    expect(first.busyByActor.get("team-a")!.get("users|alice")).toBe(1000);
    now = 1900;
    usage.finished(job, 1500);
    const second = usage.tick();
    expect(second.busyByTenant.get("team-a")).toBe(500);
    expect(usage.counts).toEqual({ waiting: 0, running: 0 });
    expect(usage.actors.get("team-a\0users|alice", now)).toMatchObject({ querierMs: 1500, ran: 1, waitMs: 400 });
    expect(usage.queriers.get("q1", now)).toMatchObject({ querierMs: 1500, ran: 1 });
  });

  it("reports how long the oldest queued sub-query has waited, and forgets cancelled ones", () => {
    let now = 0;
    const usage = new QuerierUsage(MINUTE, () => now);
    const [a, b] = [{}, {}];
    usage.queued(a, "t", []);
    now = 100;
    usage.queued(b, "t", []);
    now = 1000;
    expect(usage.tick().oldestWaitingMs).toBe(1000);
    usage.dropped(a);
    expect(usage.tick().oldestWaitingMs).toBe(900);
  });
});

describe("status data with 1,000 tenants and 10,000 actors", () => {
  it("sends bounded tables with a count of what was left out", () => {
    const metrics = new FrontendMetrics();
    const fair = new FairQueue<QueuedRequest>({
      policy: "querier-time",
      maxLevels: 3,
      maxOutstandingPerTenant: 1_000_000,
      maxOutstandingPerActor: 0,
      maxQueriersPerTenant: 0,
      querierIds: ["q0"],
    });
    const queue = new ObservedQueue(fair, metrics.usage);
    const signal = new AbortController().signal;
    for (let i = 0; i < 10_000; i++)
      queue.enqueue({ tenant: `t${i % 1000}`, actorPath: ["users", `a${i}`], enqueuedAt: 0, signal });
    // Half of them run and finish: finished actors stay listed.
    for (let i = 0; i < 5_000; i++) queue.finished(queue.dequeue("q0")!, 10);
    metrics.sources = {
      queuedByTenant: () => fair.queuedByTenant(),
      queueSnapshot: () => fair.snapshot(),
      queriers: () => [
        {
          id: "q0",
          url: "http://q0",
          maxConcurrent: 4,
          idleActorSlots: 0,
          inflight: 0,
          extraInflight: 0,
          healthy: true,
          failures: 0,
        },
      ],
      asyncJobs: () => [],
    };
    const data = statusData(metrics, { maxQueryParallelism: 14 });
    expect(data.queue).toMatchObject({ queued: 5_000, tenants: 1000 });
    expect(data.queue.rows.length).toBe(300);
    expect(data.queue.rows.length + data.queue.omitted).toBe(1000 + 1000 + 5000);
    expect(data.actors.rows).toHaveLength(100);
    expect(data.actors.rest).toBe(4_900);
    expect(data.tenants.rows).toHaveLength(50);
    expect(data.tenants.rest).toBe(950);
    expect(data.queriers[0]).toMatchObject({ ran: 5_000, querierMs: 50_000 });
    // What the page polls every second stays small.
    expect(JSON.stringify(data).length).toBeLessThan(150_000);
  });
});
