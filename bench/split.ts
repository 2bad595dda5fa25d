// A 7-day range query against a real Prometheus, directly and through the frontend (split by day,
// 4 querier workers). Prints both latencies and the ratio. Run: npx tsx bench/split.ts
// Env: BENCH_RUNS (default 5).
import { parseConfig } from "../src/config/load.js";
import { createFrontend } from "../src/frontend/app.js";
import { startPrometheus } from "../test/support/prometheus.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const QUERY = "sum by (job, code) (rate(http_requests_total[5m]))";
const identity = { subject: "bench", tenants: ["bench"], actorPath: "users|bench", scopes: [] };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const prom = await startPrometheus({ days: 7 });
  const frontend = createFrontend(
    // Splitting is measured here, not the results cache (bench/cache does that): every run is a miss.
    parseConfig({
      frontend: {
        queriers: [{ url: prom.url, max_concurrent: 4 }],
        limits: { split_metric_queries_by_interval: "24h" },
        cache: { results: { enabled: false }, metadata: { enabled: false }, empty_logs: { enabled: false } },
      },
    }).frontend!,
  );
  try {
    const form = new URLSearchParams({
      query: QUERY,
      start: String(prom.start),
      end: String(prom.end),
      step: "60",
    }).toString();
    const init = () => ({
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form,
    });
    const direct = async () => {
      const res = await fetch(`${prom.url}/api/v1/query_range`, init());
      if (res.status !== 200) throw new Error(`direct: ${res.status} ${await res.text()}`);
      return res.text();
    };
    const through = async () => {
      const res = await frontend.app.fetch(new Request("http://frontend/api/v1/query_range", init()), { identity });
      if (res.status !== 200) throw new Error(`frontend: ${res.status} ${await res.text()}`);
      return res.text();
    };
    if (JSON.stringify(JSON.parse(await direct())) !== JSON.stringify(JSON.parse(await through())))
      throw new Error("answers differ");

    const time = async (f: () => Promise<unknown>) => {
      const t0 = performance.now();
      await f();
      return performance.now() - t0;
    };
    const d: number[] = [];
    const s: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      d.push(await time(direct));
      s.push(await time(through));
    }
    const figures = {
      query: QUERY,
      range: "7d",
      step: "60s",
      runs: RUNS,
      direct_ms: median(d),
      frontend_ms: median(s),
      ratio: median(s) / median(d),
    };
    console.log(`7-day query, step 60s, ${RUNS} runs each (median): ${QUERY}`);
    console.log(`  direct to Prometheus          ${figures.direct_ms.toFixed(0).padStart(6)} ms`);
    console.log(`  frontend, split by day, 4 wkr ${figures.frontend_ms.toFixed(0).padStart(6)} ms`);
    console.log(`  frontend / direct             ${figures.ratio.toFixed(2).padStart(6)}×`);
    console.log(`BENCH_JSON ${JSON.stringify({ bench: "split", ...figures })}`);
  } finally {
    frontend.close();
    await prom.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
