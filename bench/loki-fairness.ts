// Fairness in front of the real Loki (querier.max_concurrent 2, 7 days of seeded logs), side by side:
// Loki alone without and with client X-Loki-Actor-Path headers, and fairgate with its default config
// (the actor path from the identity only), plus fairgate without idle-actor slots (the behaviour before).
//   1. flood: a heavy user runs BENCH_FLOOD (40) concurrent 7-day metric queries with a regex filter at
//      step 60; a light user of the same tenant then runs 5 sequential one-hour queries. Its median
//      latency against its idle latency.
//   2. cost: two users of one tenant whose queries cost about 10:1 in querier time (a dense stream vs a
//      sparse one), each with 4 queries always running, for BENCH_COST_WINDOW_MS. Querier time is what
//      Loki's queriers log per sub-query; Jain's index over the two users' querier time.
// Run: npx tsx bench/loki-fairness.ts   Env: BENCH_FLOOD, BENCH_REPEATS (default 1), BENCH_COST_WINDOW_MS.
// Every loop is bounded in count and by DEADLINE.
import type { Frontend } from "../src/frontend/app.js";
import {
  fairgate,
  jain,
  lokiWithHistory,
  median,
  pushDenseHour,
  queryRange,
  querierSubQueries,
  sleep,
  type Target,
} from "./lib/loki.js";

const FLOOD = Number(process.env.BENCH_FLOOD ?? 40);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 1);
const COST_WINDOW_MS = Number(process.env.BENCH_COST_WINDOW_MS ?? 10_000);
const LIGHT_RUNS = 5;
// Loki alone queues the light user behind the whole flood (minutes here): the wait is cut off there and
// reported as at least this much.
const LIGHT_TIMEOUT_MS = 15_000;
const FLOOD_HEAD_START_MS = 1500;
const T0 = Date.now();
const DEADLINE = T0 + Number(process.env.BENCH_DEADLINE_MS ?? 225_000);
const TARGET = { light_ratio: 1.2, jain: 0.95 };

const left = () => DEADLINE - Date.now();
const round = (n: number, d = 1) => Number(n.toFixed(d));

const loki = await lokiWithHistory({ maxConcurrent: 2, logLevel: "info" });
if (!loki) process.exit(0);
const NOW = Math.floor(Date.now() / 1000);
let serial = 0;
const heavyQuery = () => ({
  query: `sum by (level) (count_over_time({env="prod"} |~ "status=5.." != "flood-${serial++}" [1m]))`,
  start: NOW - 7 * 86_400,
  end: NOW,
  step: 60,
});
const lightQuery = () => ({
  query: `sum(count_over_time({env="prod", app="api"} != "light-${serial++}" [1m]))`,
  start: NOW - 3600,
  end: NOW,
  step: 60,
});

const direct = (actorHeader: boolean): Target => ({ loki: { url: loki.url, actorHeader } });

/** The light user's LIGHT_RUNS sequential queries: latencies and, through fairgate, its queue waits. */
async function lightRuns(target: Target): Promise<{ ms: number[]; queueMs: number[]; cutOff: boolean }> {
  const ms: number[] = [];
  const queueMs: number[] = [];
  for (let i = 0; i < LIGHT_RUNS && left() > 0; i++) {
    const a = await queryRange(target, "light", lightQuery(), AbortSignal.timeout(LIGHT_TIMEOUT_MS)).catch(
      (e: unknown) => {
        if ((e as Error).name === "TimeoutError") return undefined;
        throw e;
      },
    );
    if (!a) {
      ms.push(LIGHT_TIMEOUT_MS);
      return { ms, queueMs, cutOff: true };
    }
    ms.push(a.ms);
    if (a.queueMs !== undefined) queueMs.push(a.queueMs);
  }
  return { ms, queueMs, cutOff: false };
}

/** Until Loki has nothing left of an earlier case: a client without actor header waits behind all of it. */
async function drain(): Promise<void> {
  for (let i = 0; i < 120 && left() > 0; i++) {
    // A connection Loki closed as an aborted query's may fail once: that is not an answer.
    const a = await queryRange(direct(false), "probe", lightQuery()).catch(() => undefined);
    if (a && a.ms < 150) return;
    await sleep(250);
  }
}

interface FloodCase {
  light_ms: number;
  light_runs_ms: number[];
  /** fairgate: the light pieces' wait in its queue. */
  light_queue_ms?: number;
  ratio: number;
  /** The light user's wait was cut off at LIGHT_TIMEOUT_MS: the figures are lower bounds. */
  cut_off: boolean;
  flood_completed: number;
}

async function flood(target: Target, idleMs: number): Promise<FloodCase> {
  const ac = new AbortController();
  let completed = 0;
  const running = Array.from({ length: FLOOD }, () =>
    queryRange(target, "heavy", heavyQuery(), ac.signal).then(() => completed++),
  );
  await sleep(FLOOD_HEAD_START_MS);
  console.error(`flood of ${FLOOD} started (${completed} done), light user runs`);
  const light = await lightRuns(target);
  ac.abort(new Error("case over"));
  await Promise.allSettled(running);
  await drain();
  const m = median(light.ms);
  return {
    light_ms: round(m),
    light_runs_ms: light.ms.map((x) => round(x)),
    ...(light.queueMs.length ? { light_queue_ms: round(median(light.queueMs)) } : {}),
    ratio: round(m / idleMs, 2),
    cut_off: light.cutOff,
    flood_completed: completed,
  };
}

// ── 1. flood ───────────────────────────────
const runs: Record<string, FloodCase>[] = [];
const idle: { loki_ms: number; fairgate_ms: number }[] = [];
for (let r = 0; r < REPEATS && left() > 60_000; r++) {
  // A first query each, not counted: Loki's and fairgate's first answers pay for loading and connecting.
  await lightRuns(direct(true));
  const idleLoki = median((await lightRuns(direct(true))).ms);
  const fresh = (over?: Record<string, unknown>): { target: Target; f: Frontend } => {
    const f = fairgate(loki, over);
    return { target: { frontend: f }, f };
  };
  const idleGate = fresh();
  await queryRange(idleGate.target, "light", lightQuery());
  const idleFairgate = median((await lightRuns(idleGate.target)).ms);
  idleGate.f.close();
  idle.push({ loki_ms: round(idleLoki), fairgate_ms: round(idleFairgate) });
  const one: Record<string, FloodCase> = {};
  one.loki_no_header = await flood(direct(false), idleLoki);
  one.loki_actor_headers = await flood(direct(true), idleLoki);
  for (const [name, over] of [
    ["fairgate_default", undefined],
    ["fairgate_no_idle_actor_slots", { queriers: [{ url: loki.url, idle_actor_slots: 0 }] }],
  ] as const) {
    if (left() < 30_000) break;
    const g = fresh(over);
    one[name] = await flood(g.target, idleFairgate);
    g.f.close();
  }
  runs.push(one);
  console.log(`flood run ${r + 1}: idle ${JSON.stringify(idle.at(-1))} ${JSON.stringify(one)}`);
}

// ── 2. cost ────────────────────────────────
const HOUR_END = await pushDenseHour(loki, 50);
const cheap = () => ({
  query: `sum(count_over_time({env="prod", app="api", level="error"} != "cost-c-${serial++}" [1m]))`,
  start: HOUR_END - 3600,
  end: HOUR_END,
  step: 60,
});
const dear = () => ({
  query: `sum(count_over_time({app="batch"} |~ "status=5.." != "cost-e-${serial++}" [1m]))`,
  start: HOUR_END - Number(process.env.BENCH_COST_E_MINUTES ?? 12) * 60,
  end: HOUR_END,
  step: 60,
});

/** Querier time Loki logged for each kind of query (by its marker) that finished in [from, to]. */
function querierTime(from: number, to: number): { dear: number; cheap: number } {
  const t = { dear: 0, cheap: 0 };
  for (const s of querierSubQueries(loki!.logs()))
    if (s.event === "end" && s.atMs >= from && s.atMs <= to) {
      if (s.query.includes('"cost-e-')) t.dear += s.ms!;
      else if (s.query.includes('"cost-c-')) t.cheap += s.ms!;
    }
  return t;
}

// Calibration: each kind alone, one at a time, after one of each (Loki's first answers load indexes).
await queryRange(direct(true), "calibrate", dear());
await queryRange(direct(true), "calibrate", cheap());
await sleep(300);
const calFrom = Date.now();
let calibration = { dear: 0, cheap: 0 };
for (let i = 0; i < 5 && left() > 0; i++) {
  await queryRange(direct(true), "calibrate", dear());
  await queryRange(direct(true), "calibrate", cheap());
}
await sleep(300); // Loki writes its log lines as sub-queries end
calibration = querierTime(calFrom, Date.now());
const costRatio = calibration.dear / Math.max(calibration.cheap, 1e-9);

async function contend(target: Target): Promise<{ dear_ms: number; cheap_ms: number; jain: number }> {
  const stopAt = Date.now() + COST_WINDOW_MS;
  const from = Date.now();
  const ac = new AbortController();
  const loop = async (actor: string, q: () => { query: string; start: number; end: number; step: number }) => {
    for (let i = 0; i < 10_000 && Date.now() < stopAt && left() > 0; i++)
      await queryRange(target, actor, q(), ac.signal).catch(() => {});
  };
  const loops = [
    ...Array.from({ length: 4 }, () => loop("dear", dear)),
    ...Array.from({ length: 4 }, () => loop("cheap", cheap)),
  ];
  await sleep(COST_WINDOW_MS);
  const to = Date.now();
  ac.abort(new Error("case over"));
  await Promise.allSettled(loops);
  await sleep(300);
  const t = querierTime(from, to);
  await drain();
  return { dear_ms: round(t.dear), cheap_ms: round(t.cheap), jain: round(jain([t.dear, t.cheap]), 3) };
}

const cost: Record<string, { dear_ms: number; cheap_ms: number; jain: number }>[] = [];
for (let r = 0; r < REPEATS && left() > 4 * COST_WINDOW_MS + 10_000; r++) {
  const one: Record<string, { dear_ms: number; cheap_ms: number; jain: number }> = {};
  one.loki_actor_headers = await contend(direct(true));
  for (const [name, over] of [
    ["fairgate_default", undefined],
    // Slots matched to Loki's workers: fairgate, not Loki's count-based rotation, then decides who runs.
    ["fairgate_slots_as_loki_workers", { queriers: [{ url: loki.url, max_concurrent: 2 }] }],
    [
      "fairgate_slots_as_loki_workers_no_idle_slots",
      { queriers: [{ url: loki.url, max_concurrent: 2, idle_actor_slots: 0 }] },
    ],
  ] as const) {
    const g = fairgate(loki, over);
    one[name] = await contend({ frontend: g });
    g.close();
  }
  cost.push(one);
  console.log(`cost run ${r + 1}: ${JSON.stringify(one)}`);
}
await loki.close();

// ── report ─────────────────────────────────
const range = (xs: number[]) => (xs.length ? `${Math.min(...xs)}–${Math.max(...xs)}` : "n/a");
const pick = (c: string, k: keyof FloodCase) => runs.filter((r) => r[c]).map((r) => r[c]![k] as number);
console.log(`\nLight user (5 sequential 1h queries) under a flood of ${FLOOD} 7-day queries, step 60, same tenant`);
console.log(`idle: Loki ${range(idle.map((i) => i.loki_ms))} ms, fairgate ${range(idle.map((i) => i.fairgate_ms))} ms`);
for (const c of ["loki_no_header", "loki_actor_headers", "fairgate_default", "fairgate_no_idle_actor_slots"]) {
  const queue = pick(c, "light_queue_ms");
  const cut = runs.some((r) => r[c]?.cut_off) ? `   (cut off at ${LIGHT_TIMEOUT_MS} ms: at least this)` : "";
  console.log(
    `${c.padEnd(30)} light ${range(pick(c, "light_ms")).padStart(14)} ms` +
      `   ×idle ${range(pick(c, "ratio")).padStart(11)}` +
      (queue.length ? `   (queued ${range(queue)} ms)` : "") +
      cut,
  );
}
console.log(`target: fairgate_default ≤ ${TARGET.light_ratio}× idle`);
console.log(`\nCost: querier time per query, dear ÷ cheap = ${costRatio.toFixed(1)} (calibrated one at a time)`);
for (const c of Object.keys(cost[0] ?? {}))
  console.log(
    `${c.padEnd(46)} Jain ${range(cost.map((r) => r[c]!.jain))}   dear ${range(cost.map((r) => r[c]!.dear_ms))} ms` +
      `   cheap ${range(cost.map((r) => r[c]!.cheap_ms))} ms`,
  );
console.log(`target: Jain ≥ ${TARGET.jain}`);

const worst = (c: string) => Math.max(...pick(c, "ratio"));
console.log(
  `BENCH_JSON ${JSON.stringify({
    bench: "loki-fairness",
    flood: FLOOD,
    repeats: runs.length,
    idle_loki_ms: median(idle.map((i) => i.loki_ms)),
    idle_fairgate_ms: median(idle.map((i) => i.fairgate_ms)),
    light_ratio: Object.fromEntries(Object.keys(runs[0] ?? {}).map((c) => [c, worst(c)])),
    light_ms: Object.fromEntries(Object.keys(runs[0] ?? {}).map((c) => [c, Math.max(...pick(c, "light_ms"))])),
    light_target_met: worst("fairgate_default") <= TARGET.light_ratio,
    cost_ratio: round(costRatio, 1),
    jain: Object.fromEntries(Object.keys(cost[0] ?? {}).map((c) => [c, Math.min(...cost.map((r) => r[c]!.jain))])),
    jain_target_met: cost.length > 0 && Math.min(...cost.map((r) => r.fairgate_default!.jain)) >= TARGET.jain,
    seconds: round((Date.now() - T0) / 1000),
  })}`,
);
process.exit(0);
