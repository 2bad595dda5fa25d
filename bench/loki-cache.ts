// Results caches in front of the real Loki (querier.max_concurrent 2, 7 days of seeded logs): a 7-day
// metric query with a regex filter at steps 60, 300 and 3600, cold and warm, side by side:
//   - Loki directly, its results cache off (cold), and a second Loki with its own results cache on
//     (cold once, then warm: the same query again);
//   - fairgate with its default config (memory cache) in front of the first Loki, cold and warm, each
//     cold run in turn with one of Loki's.
// The range ends an hour ago on a whole hour, so that all of it may be cached (both cache nothing
// newer than 10 minutes). Every cold run is a distinct query (a different no-op filter).
// Run: npx tsx bench/loki-cache.ts   Env: BENCH_RUNS (default 3).
import type { TestLoki } from "../test/support/loki.js";
import { fairgate, lokiWithHistory, median, queryRange, type Target } from "./lib/loki.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const STEPS = [60, 300, 3600];
const T0 = Date.now();
const DEADLINE = T0 + Number(process.env.BENCH_DEADLINE_MS ?? 200_000);
const TARGET = { cold_ratio: 1.1, warm_vs_loki: 1, warm_over_cold: 0.012 };
const END = Math.floor(Date.now() / 3_600_000) * 3600 - 3600;
const round = (n: number, d = 1) => Number(n.toFixed(d));

let serial = 0;
const query = (step: number, marker: string) => ({
  query: `sum by (level) (count_over_time({env="prod"} |~ "status=5.." != "${marker}" [5m]))`,
  start: END - 7 * 86_400,
  end: END,
  step,
});

interface ColdWarm {
  cold_ms: number[];
  warm_ms: number[];
}

const ms = async (target: Target, q: ReturnType<typeof query>) => (await queryRange(target, "bench", q)).ms;

/** RUNS times, in turn (so that the machine's load hits both alike): Loki cold, fairgate cold, fairgate warm. */
async function sideBySide(loki: Target, gate: Target, step: number): Promise<{ loki: ColdWarm; fairgate: ColdWarm }> {
  const out = {
    loki: { cold_ms: [] as number[], warm_ms: [] },
    fairgate: { cold_ms: [] as number[], warm_ms: [] as number[] },
  };
  for (let i = 0; i < RUNS && Date.now() < DEADLINE; i++) {
    out.loki.cold_ms.push(await ms(loki, query(step, `cold-${serial++}`)));
    const q = query(step, `cold-${serial++}`);
    out.fairgate.cold_ms.push(await ms(gate, q));
    out.fairgate.warm_ms.push(await ms(gate, q));
  }
  return out;
}

/** Loki with its own cache: one cold run, then RUNS warm ones. */
async function lokiCached(loki: Target, step: number): Promise<ColdWarm> {
  const q = query(step, `cold-${serial++}`);
  const out: ColdWarm = { cold_ms: [await ms(loki, q)], warm_ms: [] };
  for (let i = 0; i < RUNS && Date.now() < DEADLINE; i++) out.warm_ms.push(await ms(loki, q));
  return out;
}

async function withLoki<T>(resultsCache: boolean, f: (loki: TestLoki) => Promise<T>): Promise<T | undefined> {
  const loki = await lokiWithHistory({ maxConcurrent: 2, resultsCache });
  if (!loki) return undefined;
  try {
    return await f(loki);
  } finally {
    await loki.close();
  }
}

type Figures = Record<number, { loki: ColdWarm; fairgate: ColdWarm; lokiCache?: ColdWarm }>;
const figures: Figures = {};
const first = await withLoki(false, async (loki) => {
  // One query first: Loki's first answers pay for loading indexes and chunks.
  await queryRange({ loki: { url: loki.url, actorHeader: false } }, "bench", query(300, "warm-up"));
  for (const step of STEPS) {
    const f = fairgate(loki);
    figures[step] = await sideBySide({ loki: { url: loki.url, actorHeader: false } }, { frontend: f }, step);
    f.close();
  }
  return true;
});
if (!first) process.exit(0);
// The second Loki takes half a minute to start: not when the time is up.
if (Date.now() < DEADLINE - 40_000)
  await withLoki(true, async (loki) => {
    await queryRange({ loki: { url: loki.url, actorHeader: false } }, "bench", query(300, "warm-up"));
    for (const step of STEPS)
      figures[step]!.lokiCache = await lokiCached({ loki: { url: loki.url, actorHeader: false } }, step);
  });

const range = (xs: number[]) =>
  xs.length ? `${round(Math.min(...xs))}–${round(Math.max(...xs))}`.padStart(15) : "n/a".padStart(15);
console.log(`7-day query, regex filter, ${RUNS} runs each (ms, min–max)`);
console.log("step   Loki cold        Loki+cache cold  Loki+cache warm  fairgate cold    fairgate warm");
const json: Record<string, Record<string, number | boolean>> = {};
for (const step of STEPS) {
  const f = figures[step];
  if (!f) continue;
  const lc = f.lokiCache ?? { cold_ms: [], warm_ms: [] };
  console.log(
    `${String(step).padEnd(6)} ${range(f.loki.cold_ms)}  ${range(lc.cold_ms)}  ${range(lc.warm_ms)}  ` +
      `${range(f.fairgate.cold_ms)}  ${range(f.fairgate.warm_ms)}`,
  );
  const coldRatio = median(f.fairgate.cold_ms) / median(f.loki.cold_ms);
  const warmVsLoki = lc.warm_ms.length ? median(f.fairgate.warm_ms) / median(lc.warm_ms) : Number.NaN;
  const warmOverCold = median(f.fairgate.warm_ms) / median(f.fairgate.cold_ms);
  json[`step_${step}`] = {
    loki_cold_ms: round(median(f.loki.cold_ms)),
    loki_cache_warm_ms: lc.warm_ms.length ? round(median(lc.warm_ms), 2) : Number.NaN,
    fairgate_cold_ms: round(median(f.fairgate.cold_ms)),
    fairgate_warm_ms: round(median(f.fairgate.warm_ms), 2),
    cold_ratio: round(coldRatio, 2),
    warm_vs_loki_cache: round(warmVsLoki, 2),
    warm_over_cold: round(warmOverCold, 4),
    targets_met:
      coldRatio <= TARGET.cold_ratio && warmVsLoki <= TARGET.warm_vs_loki && warmOverCold <= TARGET.warm_over_cold,
  };
  console.log(
    `       fairgate cold ÷ Loki cold ${coldRatio.toFixed(2)} (target ≤ ${TARGET.cold_ratio}), ` +
      `fairgate warm ÷ Loki's warm ${warmVsLoki.toFixed(2)} (≤ 1), warm ÷ cold ${warmOverCold.toFixed(4)} ` +
      `(≤ ${TARGET.warm_over_cold})`,
  );
}
console.log(
  `BENCH_JSON ${JSON.stringify({ bench: "loki-cache", runs: RUNS, ...json, seconds: round((Date.now() - T0) / 1e3) })}`,
);
process.exit(0);
