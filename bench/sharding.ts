// Query sharding on the real backends, side by side in one run (queriers with no frontend of their own behind
// fairgate; results caches off everywhere, so every run computes):
//   - Mimir: a monolith and 2 querier processes, SERIES counters over a day at 1 m; sum by (pod) (rate(x[5m]))
//     over the day at a 1 m step, through fairgate unsharded, fairgate sharded (16 shards, and 4), and Mimir's own
//     query-frontend with its query sharding on (16 shards) in front of the same queriers;
//   - Loki: a write process and 2 querier processes, a day of logs; a regex-filtered count over the day, the
//     same three ways (Loki's frontend shards by its own rules).
// Targets: sharded ≤ 0.6× unsharded; sharded through fairgate ≤ 1.1× the backend's own sharded frontend.
// Run: npx tsx bench/sharding.ts   Env: BENCH_RUNS (default 3), BENCH_SERIES (default 3000).
import { parseConfig } from "../src/config/load.js";
import { createFrontend, type Frontend } from "../src/frontend/app.js";
import { findLoki, generateHistory, pushBatches, startLokiQueriers } from "../test/support/loki.js";
import { findMimir, pushSeries, startMimirQueriers } from "../test/support/mimir.js";
import type { Series } from "../test/support/remote-write.js";
import { median } from "./lib/loki.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SERIES = Number(process.env.BENCH_SERIES ?? 3000);
const SHARDS = 16;
/** Also measured: fewer shards, as many as this machine's cores and a little more. */
const FEW_SHARDS = 4;
const T0 = Date.now();
const DEADLINE = T0 + Number(process.env.BENCH_DEADLINE_MS ?? 225_000);
const TARGET = { sharded_over_unsharded: 0.6, sharded_over_backend: 1.1 };
const END_S = Math.floor(Date.now() / 3_600_000) * 3600 - 3600;
const TENANT = "bench";
const round = (n: number, d = 2) => Number(n.toFixed(d));

/** An in-process fairgate in front of `queriers`, no caches; sharding as `kind` queriers shard. */
function gate(queriers: string[], kind: "mimir" | "loki" | "prometheus", shards = SHARDS): Frontend {
  const config = parseConfig({
    frontend: {
      // As many pieces at once on each querier as the backend's frontend runs there (4 workers per querier).
      queriers: queriers.map((url) => ({ url, max_concurrent: 4, idle_actor_slots: 0 })),
      querier_kind: kind,
      limits: { query_sharding_total_shards: shards, query_timeout: "5m" },
      cache: { results: { enabled: false }, metadata: { enabled: false }, empty_logs: { enabled: false } },
    },
  }).frontend!;
  return createFrontend(config, { log: () => {} });
}

type Ask = (form: Record<string, string>) => Promise<Response>;
const viaGate =
  (f: Frontend, path: string): Ask =>
  async (form) =>
    f.app.fetch(
      new Request(`http://fairgate${path}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form).toString(),
      }),
      { identity: { subject: "s", tenants: [TENANT], actorPath: `${TENANT}|alice`, scopes: [] } },
    );
const viaHttp =
  (url: string): Ask =>
  (form) =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "X-Scope-OrgID": TENANT },
      body: new URLSearchParams(form).toString(),
    });

async function timed(ask: Ask, form: Record<string, string>): Promise<number> {
  const t = performance.now();
  const res = await ask(form);
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${res.status}: ${body.slice(0, 300)}`);
  return performance.now() - t;
}

/** RUNS rounds, the three targets in turn in each (so that the machine's load hits them alike). */
async function sideBySide(targets: Record<string, Ask>, form: Record<string, string>) {
  const ms: Record<string, number[]> = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
  for (const ask of Object.values(targets)) await timed(ask, form); // warm-up: indexes, chunks, connections
  for (let i = 0; i < RUNS && Date.now() < DEADLINE; i++)
    for (const [name, ask] of Object.entries(targets)) ms[name]!.push(await timed(ask, form));
  const m = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, median(v)]));
  const shardedOverUnsharded = m.fairgate_sharded! / m.fairgate_unsharded!;
  const shardedOverBackend = m.fairgate_sharded! / m.backend_frontend!;
  const fewOverUnsharded = m.fairgate_sharded_4! / m.fairgate_unsharded!;
  for (const [k, v] of Object.entries(ms))
    console.log(`  ${k.padEnd(20)} ${v.map((x) => x.toFixed(0)).join(", ")} ms (median ${m[k]!.toFixed(0)})`);
  const verdict = (ratio: number, target: number) =>
    `${ratio.toFixed(2)} (target ≤ ${target}: ${ratio <= target ? "MET" : "NOT MET"})`;
  console.log(
    `  sharded ÷ unsharded through fairgate: ${verdict(shardedOverUnsharded, TARGET.sharded_over_unsharded)}`,
  );
  console.log(
    `  fairgate sharded ÷ backend's sharded frontend: ${verdict(shardedOverBackend, TARGET.sharded_over_backend)}`,
  );
  return {
    ...Object.fromEntries(Object.entries(m).map(([k, v]) => [`${k}_ms`, round(v, 0)])),
    sharded_over_unsharded: round(shardedOverUnsharded),
    sharded_over_backend: round(shardedOverBackend),
    sharded_4_over_unsharded: round(fewOverUnsharded),
    sharded_over_unsharded_met: shardedOverUnsharded <= TARGET.sharded_over_unsharded,
    sharded_over_backend_met: shardedOverBackend <= TARGET.sharded_over_backend,
  };
}

/** SERIES counters `bench_requests_total{pod, container}` over a day at 1 m, each at its own steady rate. */
function counters(): Series[] {
  const times = Array.from({ length: 1440 }, (_, i) => (END_S - 86_400 + 60 * (i + 1)) * 1000);
  return Array.from({ length: SERIES }, (_, n) => {
    const rate = 1 + (n % 17);
    return {
      labels: { __name__: "bench_requests_total", pod: `pod-${n % 50}`, container: `c-${Math.floor(n / 50)}` },
      samples: times.map((t, i): [number, number] => [t, i * rate * 60 + ((n * 7 + i * 13) % 11)]),
    };
  });
}

async function mimirPart() {
  const bin = findMimir();
  if (!bin) return console.log("bench/sharding.ts: Mimir part skipped: no Mimir binary (MIMIR_BIN or ../shared/mimir)");
  const mimir = await startMimirQueriers({ bin, frontendShards: SHARDS });
  const gates: Frontend[] = [];
  try {
    const t = Date.now();
    await pushSeries(`${mimir.monolith.url}/api/v1/push`, TENANT, counters());
    console.log(`Mimir: ${SERIES} series × 1440 samples pushed in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    const frontend = await mimir.startFrontend();
    const [unsharded, sharded] = [gate(mimir.querierUrls, "prometheus"), gate(mimir.querierUrls, "mimir")];
    const few = gate(mimir.querierUrls, "mimir", FEW_SHARDS);
    gates.push(unsharded, sharded, few);
    const form = {
      query: "sum by (pod) (rate(bench_requests_total[5m]))",
      start: String(END_S - 86_400),
      end: String(END_S),
      step: "60",
    };
    console.log(`Mimir: ${form.query} over a day at 1 m, ${RUNS} runs each`);
    return await sideBySide(
      {
        // The queriers' URLs end in /prometheus: fairgate asks them /api/v1/...
        fairgate_unsharded: viaGate(unsharded, "/api/v1/query_range"),
        fairgate_sharded: viaGate(sharded, "/api/v1/query_range"),
        fairgate_sharded_4: viaGate(few, "/api/v1/query_range"),
        backend_frontend: viaHttp(`${frontend.url}/prometheus/api/v1/query_range`),
      },
      form,
    );
  } finally {
    await Promise.all(gates.map((g) => g.close()));
    await mimir.close();
  }
}

async function lokiPart() {
  const bin = findLoki();
  if (!bin) return console.log("bench/sharding.ts: Loki part skipped: no Loki binary (LOKI_BIN or ../shared/loki)");
  if (Date.now() > DEADLINE - 60_000) return console.log("bench/sharding.ts: Loki part skipped: out of time");
  const loki = await startLokiQueriers({ bin });
  const gates: Frontend[] = [];
  try {
    const t = Date.now();
    const history = generateHistory({ days: 1, tenants: [TENANT], meanGapSeconds: 1, endMs: END_S * 1000 });
    // Pushes of at most 20 000 lines: a day of one busy stream passes the ingester's 4 MB gRPC limit.
    const batches: { tenant: string; body: string }[] = [];
    const byStream = new Map<string, [string, string][]>();
    for (const e of history.entries[TENANT]!) {
      const k = JSON.stringify(e.stream);
      const values = byStream.get(k) ?? [];
      if (!values.length) byStream.set(k, values);
      values.push([e.tsNs.toString(), e.line]);
    }
    for (const [k, values] of byStream)
      for (let i = 0; i < values.length; i += 20_000)
        batches.push({
          tenant: TENANT,
          body: JSON.stringify({ streams: [{ stream: JSON.parse(k), values: values.slice(i, i + 20_000) }] }),
        });
    await pushBatches(loki.write, batches);
    const lines = history.entries[TENANT]!.length;
    console.log(`Loki: ${lines} lines over a day pushed in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    const frontend = await loki.startFrontend();
    const [unsharded, sharded] = [gate(loki.querierUrls, "prometheus"), gate(loki.querierUrls, "loki")];
    const few = gate(loki.querierUrls, "loki", FEW_SHARDS);
    gates.push(unsharded, sharded, few);
    const query = 'sum by (level) (count_over_time({env="prod"} |~ "status=5.." [5m]))';
    const form = { query, start: String(END_S - 86_400), end: String(END_S), step: "60" };
    console.log(`Loki: ${query} over a day at 1 m, ${RUNS} runs each`);
    const path = "/loki/api/v1/query_range";
    return {
      lines,
      ...(await sideBySide(
        {
          fairgate_unsharded: viaGate(unsharded, path),
          fairgate_sharded: viaGate(sharded, path),
          fairgate_sharded_4: viaGate(few, path),
          backend_frontend: viaHttp(`${frontend.url}${path}`),
        },
        form,
      )),
    };
  } finally {
    await Promise.all(gates.map((g) => g.close()));
    await loki.close();
  }
}

const mimir = await mimirPart();
const loki = await lokiPart();
const seconds = round((Date.now() - T0) / 1e3, 1);
const figures = { bench: "sharding", runs: RUNS, series: SERIES, shards: SHARDS, mimir, loki, seconds };
console.log(`BENCH_JSON ${JSON.stringify(figures)}`);
process.exit(0);
