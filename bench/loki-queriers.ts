// In front of Loki's queriers (no Loki query-frontend or scheduler in fairgate's read path): a write process and two
// `-target=querier` processes on one memberlist ring, 7 days of seeded logs and a dense hour, side by side in one run:
//   - straight at the queriers (each query unsplit to the next querier in turn);
//   - through Loki's own query-frontend + scheduler (one process, its results cache on) in front of the same
//     queriers (querier.max_concurrent 4, Loki's default: its workers), clients sending X-Loki-Actor-Path;
//   - through fairgate configured as config/examples/loki.yaml ships (its querier entries pointed at the two
//     queriers), and a sizing variant.
// For each: a light user's 1h query under a flood of BENCH_FLOOD (40) 7-day regex queries against its idle latency;
// Jain's index over querier time (Loki's querier log lines, per query marker) for two users of one tenant whose
// queries cost about 10:1, BENCH_COST_LOOPS (12) queries each always running; a 7-day query cold (distinct) and
// warm (repeated).
// Run: npx tsx bench/loki-queriers.ts   Env: BENCH_FLOOD, BENCH_COST_WINDOW_MS, BENCH_DEADLINE_MS.
// Every loop is bounded in count and by the deadline.
import {
  denseHourCostQueries,
  findLoki,
  generateHistory,
  pushDenseHour,
  pushHistory,
  querierSubQueries,
  startLokiQueriers,
} from "../test/support/loki.js";
import { benchSettings, runQueriersBench, type Workload } from "./lib/queriers.js";

const T0 = Date.now();
const TENANT = "tenant-a";
const PATH = "/loki/api/v1/query_range";
const settings = benchSettings(T0);

if (!findLoki()) {
  console.log("SKIPPED bench/loki-queriers.ts: no Loki binary (set LOKI_BIN=/path/to/loki-3.4.6-linux-amd64)");
  process.exit(0);
}
const bed = await startLokiQueriers({ queriers: 2, logLevel: "info", resultsCache: true });
try {
  await pushHistory(bed.write, generateHistory({ tenants: [TENANT] }));
  const hourEnd = await pushDenseHour(bed.write, 50, TENANT);
  const lokiFrontend = await bed.startFrontend();
  console.error(`loki bed up in ${((Date.now() - T0) / 1000).toFixed(1)} s`);

  const now = Math.floor(Date.now() / 1000);
  const weekEnd = Math.floor(now / 3600) * 3600 - 3600; // all of it cacheable by both (nothing newer than 10 min)
  let serial = 0;
  const workload: Workload = {
    light: () => ({
      query: `sum(count_over_time({env="prod", app="api"} != "light-${serial++}" [1m]))`,
      start: String(now - 3600),
      end: String(now),
      step: "60",
    }),
    heavy: () => ({
      query: `sum by (level) (count_over_time({env="prod"} |~ "status=5.." != "flood-${serial++}" [1m]))`,
      start: String(now - 7 * 86_400),
      end: String(now),
      step: "60",
    }),
    ...denseHourCostQueries(hourEnd),
    week: (marker) => ({
      query: `sum by (level) (count_over_time({env="prod"} |~ "status=5.." != "${marker}" [5m]))`,
      start: String(weekEnd - 7 * 86_400),
      end: String(weekEnd),
      step: "300",
    }),
    // What the queriers logged for each sub-query that ended in the window: exact querier time, whoever split it.
    querierTime: (from, to) => {
      const t = { dear: 0, cheap: 0 };
      for (const q of bed.queriers)
        for (const s of querierSubQueries(q.logs()))
          if (s.event === "end" && s.atMs >= from && s.atMs <= to) {
            if (s.query.includes('"cost-e-')) t.dear += s.ms!;
            else if (s.query.includes('"cost-c-')) t.cheap += s.ms!;
          }
      return t;
    },
  };

  await runQueriersBench({
    bench: "loki-queriers",
    example: "loki.yaml",
    own: { name: "loki_frontend", url: lokiFrontend.url },
    querierUrls: bed.querierUrls,
    path: PATH,
    tenant: TENANT,
    workload,
    // Sizing: more running pieces than cores, and Loki's own 1h split for metric queries.
    variants: [
      { name: "fairgate_2_slots_per_querier", querier: { max_concurrent: 2 } },
      { name: "fairgate_metric_split_1h", limits: { split_metric_queries_by_interval: 3_600_000 } },
    ],
    settings,
    notes: (costRatio) => [
      "\n2 Loki queriers (querier.max_concurrent 4 each for Loki's frontend), fairgate as config/examples/loki.yaml;",
      `light: median of ${settings.lightRuns} sequential 1h queries, flood of ${settings.flood} 7-day queries;`,
      `cost: dear ÷ cheap alone, straight at a querier = ${costRatio}; querier time from the queriers' logs;` +
        " 7d: step 300, cold = distinct query, warm = the same again.",
    ],
    t0: T0,
  });
} finally {
  await bed.close();
}
process.exit(0);
