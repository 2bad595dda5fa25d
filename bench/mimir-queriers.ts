// In front of Mimir's queriers (no Mimir query-frontend or scheduler in fairgate's read path): a monolith that takes
// the writes and two `-target=querier` processes on one memberlist ring, 7 days of counters and gauges at 60 s,
// side by side in one run:
//   - straight at the queriers (each query unsplit to the next querier in turn);
//   - through Mimir's own query-frontend + scheduler (one process, results cache in a memcached) in front of the
//     same queriers (querier.max_concurrent 4, Mimir's floor: its workers), clients sending their actor path;
//   - through fairgate configured as config/examples/mimir.yaml ships (its querier entries pointed at the two
//     queriers), and a sizing variant.
// For each: a light user's 1h query under a flood of BENCH_FLOOD (40) 7-day queries against its idle latency;
// Jain's index over querier time for two users of one tenant whose queries cost about 10:1, BENCH_COST_LOOPS (12)
// queries each always running (querier time estimated as completed queries × each kind's querier time alone,
// straight at a querier: Mimir's queriers log no per-query time); a 7-day query cold (distinct) and warm (repeated).
// Run: npx tsx bench/mimir-queriers.ts   Env: BENCH_FLOOD, BENCH_COST_WINDOW_MS, BENCH_DEADLINE_MS, BENCH_VARIANTS.
// Every loop is bounded in count and by the deadline.
import { startMemcached } from "../test/support/memcached.js";
import { findMimir, generateMetrics, startMimirQueriers } from "../test/support/mimir.js";
import { benchSettings, runQueriersBench, type Workload } from "./lib/queriers.js";

const T0 = Date.now();
const TENANT = "tenant-a";
const PATH = "/prometheus/api/v1/query_range"; // as Grafana asks Mimir, and fairgate passes the path on
const settings = benchSettings(T0);

if (!findMimir()) {
  console.log("SKIPPED bench/mimir-queriers.ts: no Mimir binary (set MIMIR_BIN=/path/to/mimir-3.0.2-linux-amd64)");
  process.exit(0);
}
const memcached = await startMemcached();
const bed = await startMimirQueriers({ queriers: 2, resultsCacheMemcached: memcached.address });
try {
  await bed.push(TENANT, generateMetrics({ days: 7 }));
  const mimirFrontend = await bed.startFrontend();
  console.error(`mimir bed up in ${((Date.now() - T0) / 1000).toFixed(1)} s`);

  const now = Math.floor(Date.now() / 1000);
  const weekEnd = Math.floor(now / 3600) * 3600 - 3600; // all of it cacheable by both (nothing newer than 10 min)
  const querierUrls = bed.queriers.map((q) => q.url);
  let serial = 0;
  const lastHour = () => ({ start: String(now - 3600), end: String(now), step: "60" });
  const workload: Workload = {
    light: () => ({ query: `sum(rate(http_requests_total{job="api", code!="light-${serial++}"}[5m]))`, ...lastHour() }),
    heavy: () => ({
      query: `sum by (job) (quantile_over_time(0.9, http_requests_total{method!="flood-${serial++}"}[2h]))`,
      start: String(now - 7 * 86_400),
      end: String(now),
      step: "60",
    }),
    dear: () => ({
      query: `sum by (job) (quantile_over_time(0.9, http_requests_total{code!="e-${serial++}"}[3d]))`,
      ...lastHour(),
    }),
    cheap: () => ({
      query: `max(max_over_time(queue_depth{instance="api-0:8080", job!="c-${serial++}"}[5m]))`,
      ...lastHour(),
    }),
    week: (marker) => ({
      query: `sum by (job, code) (rate(http_requests_total{method!="${marker}"}[5m]))`,
      start: String(weekEnd - 7 * 86_400),
      end: String(weekEnd),
      step: "300",
    }),
  };

  await runQueriersBench({
    bench: "mimir-queriers",
    example: "mimir.yaml",
    own: { name: "mimir_frontend", url: mimirFrontend.url },
    querierUrls,
    path: PATH,
    tenant: TENANT,
    workload,
    // Sizing: more running pieces than cores.
    variants: [{ name: "fairgate_2_slots_per_querier", querier: { max_concurrent: 2 } }],
    settings,
    notes: (costRatio) => [
      "\n2 Mimir queriers (querier.max_concurrent 4 each for Mimir's frontend)," +
        " fairgate as config/examples/mimir.yaml;",
      `light: median of ${settings.lightRuns} sequential 1h queries, flood of ${settings.flood} 7-day queries;`,
      `cost: dear ÷ cheap alone, straight at a querier = ${costRatio}; querier time = completed queries × that;` +
        " 7d: step 300, cold = distinct query, warm = the same again.",
    ],
    t0: T0,
  });
} finally {
  await bed.close();
  await memcached.close();
}
process.exit(0);
