// What a label policy adds to a request: parsing and rewriting the queries of a busy dashboard
// (p50 and p99 per query, over a one-namespace policy and over two policies that cannot be folded
// into one), the rewriter's throughput, and the same figures for a results-cache hit in the frontend
// (in process, in-memory cache: the cheapest answer a request can get). Run: npx tsx bench/policy.ts
// Env: BENCH_ROUNDS (default 2000 per query).
import { performance } from "node:perf_hooks";
import { parseConfig } from "../src/config/load.js";
import { createFrontend } from "../src/frontend/app.js";
import { restrictLogQL } from "../src/policy/logql.js";
import type { LabelPolicy } from "../src/policy/policy.js";
import { restrictPromQL } from "../src/policy/promql.js";
import { startDelayQuerier } from "./lib/delay-querier.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2000);

// A Kubernetes overview dashboard and its logs panels.
const PROMQL = {
  cpu: 'sum by (pod) (rate(container_cpu_usage_seconds_total{container!="", image!=""}[5m]))',
  memory: 'sum by (pod) (container_memory_working_set_bytes{container!=""})',
  restarts: "sum by (pod) (increase(kube_pod_container_status_restarts_total[1h]))",
  p99: "histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket[5m])))",
  errors:
    'sum by (route) (rate(http_requests_total{code=~"5.."}[5m])) / ignoring(code) group_left ' +
    "sum by (route) (rate(http_requests_total[5m]))",
  saturation: "max_over_time((sum by (pod) (rate(container_cpu_cfs_throttled_periods_total[5m])))[1h:1m])",
  absent: 'absent(up{job="api"}) or absent_over_time(up{job="worker"}[10m] offset 5m)',
  top: 'topk(10, sum by (namespace, pod) (rate(container_network_receive_bytes_total{interface="eth0"}[5m])))',
};
const LOGQL = {
  volume: 'sum by (level) (count_over_time({app="api"} | logfmt [5m]))',
  errors: 'sum by (path) (rate({app="api"} |= "error" | logfmt | status >= 500 [1m]))',
  latency: 'quantile_over_time(0.99, {app="api"} | logfmt | unwrap duration [5m]) by (path)',
  lines: '{app="api", level=~"warn|error"} |= "upstream" | logfmt | line_format "{{.path}} {{.status}}"',
};

const oneNamespace: LabelPolicy[] = [[{ name: "namespace", op: "=~", value: "team-a-.*" }]];
const twoWays: LabelPolicy[] = [
  [{ name: "namespace", op: "=", value: "team-a" }],
  [
    { name: "cluster", op: "=", value: "eu-1" },
    { name: "app", op: "!=", value: "billing" },
  ],
];

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const us = (ms: number) => Math.round(ms * 1000 * 10) / 10;

function measure(f: () => unknown): { p50_us: number; p99_us: number } {
  for (let i = 0; i < 200; i++) f(); // warm the JIT
  const xs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    f();
    xs.push(performance.now() - t);
  }
  xs.sort((a, b) => a - b);
  return { p50_us: us(quantile(xs, 0.5)), p99_us: us(quantile(xs, 0.99)) };
}

function rewrites() {
  const out: Record<string, { p50_us: number; p99_us: number }> = {};
  for (const [name, q] of Object.entries(PROMQL)) {
    out[`promql.${name}`] = measure(() => restrictPromQL(q, oneNamespace));
    out[`promql.${name}.two_policies`] = measure(() => restrictPromQL(q, twoWays));
  }
  for (const [name, q] of Object.entries(LOGQL)) out[`logql.${name}`] = measure(() => restrictLogQL(q, oneNamespace));
  return out;
}

function throughput(): number {
  const all = [
    ...Object.values(PROMQL).map((q) => () => restrictPromQL(q, oneNamespace)),
    ...Object.values(LOGQL).map((q) => () => restrictLogQL(q, oneNamespace)),
  ];
  const t = performance.now();
  let n = 0;
  while (performance.now() - t < 2000) for (const f of all) f(), n++;
  return Math.round(n / ((performance.now() - t) / 1000));
}

async function cacheHit(): Promise<{ p50_us: number; p99_us: number }> {
  const querier = await startDelayQuerier();
  const config = parseConfig({ frontend: { queriers: [{ url: querier.url, max_concurrent: 4 }] } }).frontend!;
  const now = 1_700_000_000_000;
  const frontend = createFrontend(config, { now: () => now });
  const identity = { subject: "bench", tenants: ["bench"], actorPath: "users|bench", scopes: [] };
  const body = new URLSearchParams({
    query: restrictPromQL(PROMQL.errors, oneNamespace),
    start: String(now / 1000 - 86_400 * 2),
    end: String(now / 1000 - 86_400),
    step: "60",
  }).toString();
  const ask = async () => {
    const req = new Request("http://frontend/api/v1/query_range", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    const res = await frontend.app.fetch(req, { identity });
    await res.text();
    return res.headers.get("x-fairgate-cache");
  };
  try {
    await ask();
    if ((await ask()) !== "hit") throw new Error("the second identical query was not a cache hit");
    for (let i = 0; i < 100; i++) await ask();
    const xs: number[] = [];
    for (let i = 0; i < Math.min(ROUNDS, 1000); i++) {
      const t = performance.now();
      await ask();
      xs.push(performance.now() - t);
    }
    xs.sort((a, b) => a - b);
    return { p50_us: us(quantile(xs, 0.5)), p99_us: us(quantile(xs, 0.99)) };
  } finally {
    await frontend.close?.();
    await querier.close();
  }
}

async function main() {
  const perQuery = rewrites();
  const perSecond = throughput();
  const hit = await cacheHit();
  const worst = Math.max(...Object.values(perQuery).map((r) => r.p50_us));
  for (const [name, r] of Object.entries(perQuery))
    console.log(`${name.padEnd(32)} p50 ${String(r.p50_us).padStart(7)} µs   p99 ${String(r.p99_us).padStart(7)} µs`);
  console.log(`rewrites per second (dashboard mix, one core): ${perSecond}`);
  console.log(`results-cache hit in process: p50 ${hit.p50_us} µs, p99 ${hit.p99_us} µs`);
  console.log(`cache hit p50 / slowest rewrite p50: ${(hit.p50_us / worst).toFixed(1)}x`);
  const figures = {
    rewrites_per_second: perSecond,
    cache_hit: hit,
    hit_over_slowest_rewrite: hit.p50_us / worst,
    per_query: perQuery,
  };
  console.log(`BENCH_JSON ${JSON.stringify(figures)}`);
}

await main();
