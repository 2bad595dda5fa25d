// Fairness of the frontend's queue, against a fake querier whose latency the benchmark sets per
// sub-query (bench/lib/delay-querier.ts), with one querier of max_concurrent 4:
//   1. flood: a heavy actor of tenant t queues 500 sub-queries (50 queries × 10 one-hour splits, all at
//      once); a light actor of the same tenant then runs a 7-split query. Its latency idle, under the
//      per-tenant FIFO (TenantFifoQueue), and under the fair queue (querier-time, round-robin).
//   2. querier time: two actors whose sub-queries cost 10:1 keep the queue saturated; each one's share
//      of querier time, and Jain's index over the shares, under round-robin and querier-time.
//   3. memory: heap and RSS added by 10,000 sub-queries queued in a FairQueue (100 actors).
// Run: npx tsx bench/fairness.ts   (or node --expose-gc --import tsx bench/fairness.ts; without
// --expose-gc the bench turns GC on itself through v8.setFlagsFromString).
// Env: BENCH_LATENCY_MS (flood sub-query latency, default 50), BENCH_WINDOW_MS (part 2, default 4000).
import v8 from "node:v8";
import vm from "node:vm";
import { parseConfig } from "../src/config/load.js";
import { createFrontend, type Frontend } from "../src/frontend/app.js";
import type { SubQuery } from "../src/frontend/dispatch/pool.js";
import { FairQueue, type Policy } from "../src/frontend/queue/fair-queue.js";
import { TenantFifoQueue } from "../src/frontend/queue/queue.js";
import type { QueueNodeView } from "../src/observability/metrics.js";
import { startDelayQuerier, type DelayQuerier } from "./lib/delay-querier.js";

const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 50);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 4000);
const WARMUP_MS = 500;
const CONCURRENCY = 4;
const TENANT = "t";
const HOUR = 3600;
const T0 = Math.floor(1_700_000_000 / HOUR) * HOUR; // on an hour boundary: N hours are N splits

const TARGET = { flood_fair_ratio: 1.2, jain: 0.95, memory_mb: 100 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, d = 0) => n.toFixed(d);
const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    v8.setFlagsFromString("--expose-gc");
    return vm.runInNewContext("gc") as () => void;
  })();

function frontendFor(querier: DelayQuerier, queue: "fifo" | Policy): Frontend {
  const config = parseConfig({
    frontend: {
      queriers: [{ url: querier.url, max_concurrent: CONCURRENCY }],
      queue: { policy: queue === "fifo" ? "querier-time" : queue },
      limits: { split_metric_queries_by_interval: "1h" },
      // The bench measures the queue: no answer may come from the results cache.
      cache: { results: { enabled: false }, metadata: { enabled: false }, empty_logs: { enabled: false } },
    },
  }).frontend!;
  return createFrontend(config, queue === "fifo" ? { queue: new TenantFifoQueue<SubQuery>() } : {});
}

interface Result {
  ms: number;
  status: number;
  splits: number;
}

let queries = 0;

/**
 * One query_range of `hours` one-hour splits for `actor`, each sub-query taking ~delayMs on the querier. Every query is
 * distinct.
 */
async function query(
  f: Frontend,
  actor: string,
  hours: number,
  delayMs: number,
  signal?: AbortSignal,
): Promise<Result> {
  const qs = new URLSearchParams({
    query: `up{actor="${actor}",n="${queries++}"}`,
    start: String(T0),
    end: String(T0 + hours * HOUR),
    step: "60",
    delay_ms: String(delayMs),
  });
  const identity = { subject: actor, tenants: [TENANT], actorPath: `users|${actor}`, scopes: [] };
  const t = performance.now();
  const res = await f.app.fetch(new Request(`http://f/api/v1/query_range?${qs}`, { signal }), { identity });
  await res.text();
  if (res.headers.has("x-fairgate-cache") && res.headers.get("x-fairgate-cache") !== "miss")
    throw new Error(`cache ${res.headers.get("x-fairgate-cache")}: the bench must not be served from a cache`);
  return { ms: performance.now() - t, status: res.status, splits: Number(res.headers.get("x-fairgate-splits")) };
}

const inPool = (f: Frontend) => f.queue.length + f.pool.queriers.reduce((n, q) => n + q.inflight, 0);

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** Aborts what is running, waits until every query settled and the querier is idle, stops both. */
async function teardown(
  f: Frontend,
  q: DelayQuerier,
  ac: AbortController | undefined,
  running: Promise<unknown>[],
): Promise<void> {
  ac?.abort(new Error("bench case over"));
  await Promise.allSettled(running);
  await waitFor(() => q.inflight() === 0 && f.queue.length === 0, 5_000, "the querier to drain").catch((e) =>
    console.error(String(e)),
  );
  f.close();
  await q.close();
}

// ── 1. flood ───────────────────────────────

type FloodCase = "idle" | "fifo" | "round-robin" | "querier-time";

interface FloodFigures {
  case: FloodCase;
  runs: number;
  light_ms: number;
  light_runs_ms: number[];
  /** Sub-queries still waiting in the queue when the light query finished (median): the flood was on. */
  flood_queued_after: number;
  /** From sending the light query until the querier received its first sub-query (querier log). */
  light_first_start_ms: number;
}

async function floodCase(kind: FloodCase, seed: number): Promise<FloodFigures> {
  const q = await startDelayQuerier({ jitter: 0.2, seed });
  const f = frontendFor(q, kind === "idle" ? "querier-time" : kind);
  const ac = kind === "idle" ? undefined : new AbortController();
  const flood: Promise<unknown>[] = [];
  try {
    if (ac) {
      for (let i = 0; i < 50; i++) flood.push(query(f, "heavy", 10, LATENCY, ac.signal).catch(() => undefined));
      await waitFor(() => inPool(f) >= 500, 5_000, "the flood to be queued");
      await sleep(300); // querier slots out of lockstep (jittered latencies): the light query lands at a random phase
    } else {
      await query(f, "light", 7, LATENCY); // warm the connection pool
    }
    const runs = kind === "fifo" ? 1 : 7;
    const ms: number[] = [];
    const after: number[] = [];
    const firstStart: number[] = [];
    for (let i = 0; i < runs; i++) {
      const from = q.log.length;
      const t = performance.now();
      // Each run is a light actor's first query: one that has not been using the queriers.
      const light = `light-${i}`;
      const r = await query(f, light, 7, LATENCY);
      if (r.status !== 200 || r.splits !== 7)
        throw new Error(`light query (${kind}): status ${r.status}, ${r.splits} splits`);
      ms.push(r.ms);
      after.push(f.queue.length);
      const mine = q.log.slice(from).filter((s) => s.actor === `users|${light}`);
      if (mine.length !== 7)
        throw new Error(`light query (${kind}): the querier saw ${mine.length} of its 7 sub-queries`);
      firstStart.push(Math.min(...mine.map((s) => s.start)) - t);
      if (kind !== "fifo") await sleep(20 + 10 * i); // next run at another phase
    }
    return {
      case: kind,
      runs,
      light_ms: median(ms),
      light_runs_ms: ms.map((x) => Math.round(x)),
      flood_queued_after: median(after),
      light_first_start_ms: median(firstStart),
    };
  } finally {
    await teardown(f, q, ac, flood);
  }
}

// ── 2. querier time ────────────────────────

interface ShareFigures {
  policy: Policy;
  window_ms: number;
  expensive: {
    delay_ms: number;
    querier_ms: number;
    share: number;
    served: number;
    min_queued: number;
    snapshot_querier_ms: number;
  };
  cheap: {
    delay_ms: number;
    querier_ms: number;
    share: number;
    served: number;
    min_queued: number;
    snapshot_querier_ms: number;
  };
  busy: number;
  jain: number;
  /** The same over the frontend's own accounting (queue.snapshot() querier_time_ms). */
  jain_snapshot: number;
}

/** The actor's node in the fair queue's tree, as operators see it (f.queue is the queue the status page watches). */
function actorNode(f: Frontend, actor: string): QueueNodeView | undefined {
  return f.metrics.sources
    ?.queueSnapshot()
    .tenants?.find((t) => t.name === TENANT)
    ?.children.find((c) => c.name === "users")
    ?.children.find((c) => c.name === actor);
}

export const jain = (xs: number[]) =>
  xs.reduce((a, b) => a + b, 0) ** 2 / (xs.length * xs.reduce((a, b) => a + b * b, 0));

async function shareCase(policy: Policy, seed: number): Promise<ShareFigures> {
  const actors = [
    { name: "expensive", delay: 100 },
    { name: "cheap", delay: 10 },
  ];
  const q = await startDelayQuerier({ jitter: 0.1, seed });
  const f = frontendFor(q, policy);
  const ac = new AbortController();
  const loops: Promise<unknown>[] = [];
  try {
    // Each actor keeps 6 queries of 10 sub-queries going: ≥ 50 queued at all times, whatever its share.
    for (const a of actors)
      for (let i = 0; i < 6; i++)
        loops.push(
          (async () => {
            while (!ac.signal.aborted) await query(f, a.name, 10, a.delay, ac.signal).catch(() => undefined);
          })(),
        );
    await sleep(WARMUP_MS);
    const start = performance.now();
    const snap0 = Object.fromEntries(actors.map((a) => [a.name, actorNode(f, a.name)?.querier_time_ms ?? 0]));
    const minQueued: Record<string, number> = Object.fromEntries(actors.map((a) => [a.name, Infinity]));
    while (performance.now() - start < WINDOW_MS) {
      for (const a of actors) minQueued[a.name] = Math.min(minQueued[a.name]!, actorNode(f, a.name)?.queued ?? 0);
      await sleep(25);
    }
    const end = performance.now();
    const snap1 = Object.fromEntries(actors.map((a) => [a.name, actorNode(f, a.name)?.querier_time_ms ?? 0]));
    // Querier time in the window, as the querier saw it: each sub-query's run clipped to the window.
    const used = (actor: string) =>
      q.log
        .filter((s) => s.actor === `users|${actor}`)
        .reduce(
          (n, s) => n + Math.max(0, Math.min(Number.isNaN(s.end) ? end : s.end, end) - Math.max(s.start, start)),
          0,
        );
    const served = (actor: string) =>
      q.log.filter((s) => s.actor === `users|${actor}` && !s.aborted && s.end >= start && s.end <= end).length;
    const x = actors.map((a) => used(a.name));
    const total = x.reduce((a, b) => a + b, 0);
    const fig = (i: number) => ({
      delay_ms: actors[i]!.delay,
      querier_ms: Math.round(x[i]!),
      share: x[i]! / total,
      served: served(actors[i]!.name),
      min_queued: minQueued[actors[i]!.name]!,
      snapshot_querier_ms: snap1[actors[i]!.name]! - snap0[actors[i]!.name]!,
    });
    return {
      policy,
      window_ms: Math.round(end - start),
      expensive: fig(0),
      cheap: fig(1),
      busy: total / ((end - start) * CONCURRENCY),
      jain: jain(x.map((v) => v / total)),
      jain_snapshot: jain(actors.map((a) => snap1[a.name]! - snap0[a.name]!)),
    };
  } finally {
    await teardown(f, q, ac, loops);
  }
}

// ── 3. memory ──────────────────────────────

interface MemoryFigures {
  items: number;
  actors: number;
  items_heap_mb: number;
  queue_heap_mb: number;
  total_heap_mb: number;
  rss_mb: number;
  per_item_bytes: number;
  enqueue_ms: number;
  dequeue_ms: number;
  empty_after: boolean;
}

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage();
}

function memoryCase(n = 10_000, actors = 100): MemoryFigures {
  const queue = new FairQueue<SubQuery>({
    policy: "querier-time",
    maxLevels: 3,
    maxOutstandingPerTenant: n,
    maxOutstandingPerActor: 0,
    maxQueriersPerTenant: 0,
    querierIds: ["http://querier:3100"],
    weight: () => 1,
  });
  const base = settle();
  // What the pool queues for a sub-query: a SubQuery whose start() closes over the request and its context.
  const jobs: SubQuery[] = [];
  for (let i = 0; i < n; i++) {
    const controller = new AbortController();
    const req = {
      api: "prometheus",
      path: "/api/v1/query_range",
      kind: "metric",
      query: `sum by (job) (rate(http_requests_total{actor="${i % actors}"}[5m]))`,
      startNs: BigInt(T0 + i) * 1_000_000_000n,
      endNs: BigInt(T0 + i + HOUR) * 1_000_000_000n,
      stepMs: 60_000,
      params: {},
    };
    const avoid = new Set<string>();
    jobs.push({
      tenant: TENANT,
      actorPath: ["users", `actor-${i % actors}`],
      enqueuedAt: Date.now(),
      signal: controller.signal,
      avoid,
      start: () => void [req, controller, avoid],
    });
  }
  const withItems = settle();
  let t = performance.now();
  for (const j of jobs) queue.enqueue(j);
  const enqueueMs = performance.now() - t;
  const withQueue = settle();
  if (queue.length !== n) throw new Error(`queued ${queue.length} of ${n}`);
  t = performance.now();
  for (let job; (job = queue.dequeue("http://querier:3100")); ) queue.finished(job, 5);
  const dequeueMs = performance.now() - t;
  const emptyAfter = queue.length === 0 && queue.tree.root.children.size === 0;
  const MB = 1024 * 1024;
  return {
    items: n,
    actors,
    items_heap_mb: (withItems.heapUsed - base.heapUsed) / MB,
    queue_heap_mb: (withQueue.heapUsed - withItems.heapUsed) / MB,
    total_heap_mb: (withQueue.heapUsed - base.heapUsed) / MB,
    rss_mb: (withQueue.rss - base.rss) / MB,
    per_item_bytes: (withQueue.heapUsed - base.heapUsed) / n,
    enqueue_ms: enqueueMs,
    dequeue_ms: dequeueMs,
    empty_after: emptyAfter,
  };
}

// ── main ───────────────────────────────────

async function main(): Promise<void> {
  const began = performance.now();
  // Memory first, while the heap holds nothing else.
  const mem = memoryCase();

  console.log(
    `1. Flood: heavy actor queues 500 sub-queries (50 × 10 splits), light actor runs 7 splits; 1 querier × ` +
      `${CONCURRENCY} slots, sub-query latency ${LATENCY} ms ±20 %`,
  );
  const flood: Record<FloodCase, FloodFigures> = {} as never;
  for (const [i, kind] of (["idle", "fifo", "round-robin", "querier-time"] as FloodCase[]).entries())
    flood[kind] = await floodCase(kind, 11 + i);
  const idle = flood.idle.light_ms;
  const label: Record<FloodCase, string> = {
    idle: "idle (no flood)",
    fifo: "per-tenant FIFO",
    "round-robin": "fair, round-robin",
    "querier-time": "fair, querier-time",
  };
  console.log(
    `  ${"queue".padEnd(20)} ${"light query".padStart(11)} ${"× idle".padStart(7)} ${"1st sub-query".padStart(13)} ` +
      `${"flood left".padStart(10)}  runs (ms)`,
  );
  for (const c of Object.values(flood))
    console.log(
      `  ${label[c.case].padEnd(20)} ${`${fmt(c.light_ms)} ms`.padStart(11)} ` +
        `${`${fmt(c.light_ms / idle, 2)}×`.padStart(7)} ${`${fmt(c.light_first_start_ms)} ms`.padStart(13)} ` +
        `${String(c.flood_queued_after).padStart(10)}  ${c.light_runs_ms.join(" ")}`,
    );
  console.log(
    `  (median of ${flood.idle.runs} runs; FIFO: 1 run. "1st sub-query": wait until the querier got the light ` +
      `query's first sub-query. "flood left": heavy sub-queries still queued when it finished)`,
  );

  console.log(
    `\n2. Querier time: actors with sub-queries of 100 ms and 10 ms, each 6 × 10-split queries in a loop; ` +
      `${WINDOW_MS} ms window after ${WARMUP_MS} ms warm-up`,
  );
  const shares = {
    "round-robin": await shareCase("round-robin", 21),
    "querier-time": await shareCase("querier-time", 22),
  };
  console.log(
    `  ${"policy".padEnd(13)} ${"actor".padEnd(9)} ${"querier time".padStart(12)} ${"share".padStart(6)} ` +
      `${"served".padStart(6)} ${"min queued".padStart(10)} ${"snapshot".padStart(9)}   Jain`,
  );
  for (const s of Object.values(shares)) {
    for (const [name, a] of [
      ["expensive", s.expensive],
      ["cheap", s.cheap],
    ] as const)
      console.log(
        `  ${(name === "expensive" ? s.policy : "").padEnd(13)} ${name.padEnd(9)} ` +
          `${`${fmt(a.querier_ms)} ms`.padStart(12)} ${fmt(a.share * 100, 1).padStart(5)}% ` +
          `${String(a.served).padStart(6)} ${String(a.min_queued).padStart(10)} ` +
          `${`${a.snapshot_querier_ms} ms`.padStart(9)}   ` +
          (name === "expensive" ? fmt(s.jain, 3) : `(${fmt(s.jain_snapshot, 3)})`),
      );
    console.log(`  ${"".padEnd(13)} querier slots busy ${fmt(s.busy * 100, 1)}%`);
  }
  console.log(`  (querier time: sum of sub-query run times on the querier, clipped to the window, and Jain over it;
   snapshot: growth of queue.snapshot() querier_time_ms over the window — the frontend's view, which includes each
   sub-query's HTTP round trip — and, in parentheses, Jain over that)`);

  console.log(
    `\n3. Memory: ${mem.items} sub-queries queued in a FairQueue (tenant ${TENANT}, ${mem.actors} actors, an ` +
      `AbortSignal each)`,
  );
  console.log(`  heap, the sub-queries themselves   ${fmt(mem.items_heap_mb, 2).padStart(7)} MB`);
  console.log(`  heap, the queue on top of them     ${fmt(mem.queue_heap_mb, 2).padStart(7)} MB`);
  console.log(
    `  heap, total                        ${fmt(mem.total_heap_mb, 2).padStart(7)} MB  (${fmt(mem.per_item_bytes)} ` +
      `B per sub-query)`,
  );
  console.log(`  RSS, total                         ${fmt(mem.rss_mb, 2).padStart(7)} MB`);
  console.log(
    `  enqueue ${mem.items}: ${fmt(mem.enqueue_ms, 1)} ms; dequeue+finish ${mem.items}: ${fmt(mem.dequeue_ms, 1)} ` +
      `ms; tree empty afterwards: ${mem.empty_after}`,
  );

  const fairRatio = flood["querier-time"].light_ms / idle;
  const J = shares["querier-time"].jain;
  const memMb = Math.max(mem.rss_mb, mem.total_heap_mb);
  const met = {
    flood: fairRatio <= TARGET.flood_fair_ratio,
    jain: J >= TARGET.jain,
    memory: memMb <= TARGET.memory_mb,
  };
  const yes = (b: boolean) => (b ? "met" : "NOT MET");
  console.log(`\nSummary`);
  console.log(`  ${"figure".padEnd(46)} ${"value".padStart(10)} ${"target".padStart(9)}  result`);
  const row = (name: string, value: string, target: string, ok?: boolean) =>
    console.log(`  ${name.padEnd(46)} ${value.padStart(10)} ${target.padStart(9)}  ${ok === undefined ? "" : yes(ok)}`);
  row("light query idle", `${fmt(idle)} ms`, "");
  row("light query under flood, per-tenant FIFO", `${fmt(flood.fifo.light_ms / idle, 2)}×`, "");
  row("light query under flood, fair round-robin", `${fmt(flood["round-robin"].light_ms / idle, 2)}×`, "");
  row(
    "light query under flood, fair querier-time",
    `${fmt(fairRatio, 2)}×`,
    `≤ ${TARGET.flood_fair_ratio}×`,
    met.flood,
  );
  row("Jain's index of querier time, round-robin", fmt(shares["round-robin"].jain, 3), "");
  row("Jain's index of querier time, querier-time", fmt(J, 3), `≥ ${TARGET.jain}`, met.jain);
  const memoryTarget = `≤ ${TARGET.memory_mb} MB`;
  row("memory for 10,000 queued sub-queries (RSS)", `${fmt(mem.rss_mb, 1)} MB`, memoryTarget, met.memory);
  console.log(`  (${fmt((performance.now() - began) / 1000, 1)} s)`);

  const round = (o: unknown): unknown =>
    JSON.parse(
      JSON.stringify(o, (_k, v) => (typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v)),
    );
  console.log(
    `BENCH_JSON ${JSON.stringify(
      round({
        bench: "fairness",
        concurrency: CONCURRENCY,
        flood: {
          latency_ms: LATENCY,
          sub_queries: 500,
          light_splits: 7,
          ...Object.fromEntries(Object.values(flood).map((c) => [c.case, { ...c, ratio: c.light_ms / idle }])),
        },
        querier_time: shares,
        memory: mem,
        targets: { ...TARGET, flood_fair_ratio_value: fairRatio, jain_value: J, memory_mb_value: memMb, met },
      }),
    )}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
