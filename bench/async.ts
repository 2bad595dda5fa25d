// Asynchronous queries with each async store (memory, and NATS JetStream on a real nats-server):
// - overhead: a 2-day dashboard query against a real Prometheus, run synchronously and as a job
//   (submit with wait=, so the answer comes back as soon as it is stored), median latency and ratio;
// - throughput: how many tiny jobs per second one replica completes (submitted all at once to a
//   querier that answers at once, counted until every status says done), beside the same tiny
//   queries run synchronously all at once.
// Run: npx tsx bench/async.ts   Env: BENCH_RUNS (default 5), BENCH_JOBS (default 200).
import { parseConfig } from "../src/config/load.js";
import { createFrontend, type Frontend } from "../src/frontend/app.js";
import { startNats } from "../test/support/nats.js";
import { startPrometheus } from "../test/support/prometheus.js";
import { startTestQuerier } from "../test/support/test-querier.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const JOBS = Number(process.env.BENCH_JOBS ?? 200);
const QUERY = "sum by (job, code) (rate(http_requests_total[5m]))";
const identity = { subject: "bench", tenants: ["bench"], actorPath: "users|bench", scopes: [] };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function frontend(querier: string, store: Record<string, unknown>): Frontend {
  return createFrontend(
    parseConfig({
      frontend: {
        queriers: [{ url: querier, max_concurrent: 4 }],
        limits: { split_metric_queries_by_interval: "24h" },
        cache: { results: { enabled: false }, metadata: { enabled: false }, empty_logs: { enabled: false } },
        async: { max_jobs_per_tenant: 100_000, max_jobs_per_actor: 100_000, job_workers: 8, ...store },
      },
    }).frontend!,
    { log: () => {} },
  );
}

const withPrefix = (store: Record<string, unknown>, prefix: string) =>
  store.nats ? { ...store, nats: { ...(store.nats as object), prefix: `bench-${prefix}-${process.pid}` } } : store;

const get = (f: Frontend, path: string) => f.app.fetch(new Request(`http://frontend${path}`), { identity });

async function overhead(f: Frontend, params: URLSearchParams) {
  const path = `/api/v1/query_range?${params}`;
  const asJob = `/api/v1/query_range?${params}&async=true&wait=30s`;
  const sync = await (await get(f, path)).text();
  const job = await get(f, asJob);
  const body = await job.text();
  if (job.status !== 200 || body !== sync) throw new Error(`job answer differs (${job.status}): ${body.slice(0, 300)}`);
  const time = async (p: string) => {
    const t0 = performance.now();
    const res = await get(f, p);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${p}: ${res.status}`);
    return performance.now() - t0;
  };
  const s: number[] = [];
  const a: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    s.push(await time(path));
    a.push(await time(asJob));
  }
  return { sync_ms: median(s), async_ms: median(a), ratio: median(a) / median(s) };
}

const tiny = (i: number) => {
  const q = new URLSearchParams({ query: `up + ${i}`, start: "1700000000", end: "1700000060", step: "60" });
  return `/api/v1/query_range?${q}`;
};

async function throughput(f: Frontend) {
  // The same tiny queries all at once, synchronously: what the query path itself allows.
  const s0 = performance.now();
  await Promise.all(Array.from({ length: JOBS }, async (_, i) => (await get(f, tiny(i))).arrayBuffer()));
  const syncPerS = JOBS / ((performance.now() - s0) / 1000);
  const t0 = performance.now();
  const ids = await Promise.all(
    Array.from({ length: JOBS }, async (_, i) => {
      const res = await get(f, `${tiny(i)}&async=true`);
      if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { data: { id: string } }).data.id;
    }),
  );
  const submitted = performance.now() - t0;
  let pending = ids;
  while (pending.length) {
    const states = await Promise.all(
      pending.map(
        async (id) => ((await (await get(f, `/fairgate/api/v1/async/${id}/status`)).json()) as { state: string }).state,
      ),
    );
    if (states.includes("failed")) throw new Error("a tiny job failed");
    pending = pending.filter((_, i) => states[i] !== "done");
    if (pending.length) await sleep(20);
  }
  const seconds = (performance.now() - t0) / 1000;
  const jobsPerS = JOBS / seconds;
  return {
    jobs: JOBS,
    submit_per_s: JOBS / (submitted / 1000),
    jobs_per_s: jobsPerS,
    sync_per_s: syncPerS,
    ratio: jobsPerS / syncPerS,
  };
}

async function main(): Promise<void> {
  const [prom, nats, tiny] = await Promise.all([startPrometheus({ days: 2 }), startNats(), startTestQuerier(0)]);
  const stores: Record<string, Record<string, unknown>> = {
    memory: { store: "memory" },
    nats: { store: "nats", nats: { servers: [nats.url] } },
  };
  const params = new URLSearchParams({ query: QUERY, start: String(prom.start), end: String(prom.end), step: "60" });
  const out: Record<string, unknown> = {};
  try {
    for (const [name, store] of Object.entries(stores)) {
      // Two frontends with different queriers: not replicas of each other, so each its own prefix.
      const onProm = frontend(prom.url, withPrefix(store, "overhead"));
      const onTiny = frontend(tiny.url, withPrefix(store, "throughput"));
      try {
        out[name] = { overhead: await overhead(onProm, params), throughput: await throughput(onTiny) };
      } finally {
        onProm.close();
        onTiny.close();
      }
      console.log(name, JSON.stringify(out[name]));
    }
  } finally {
    await Promise.all([prom.close(), nats.close(), tiny.close()]);
  }
  console.log(`BENCH_JSON ${JSON.stringify(out)}`);
  process.exit(0);
}

await main();
