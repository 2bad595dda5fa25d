// Several frontend replicas (frontend.membership) as separate `fairgate frontend` processes on one nats-server, in
// front of a fake querier whose latency the benchmark sets (bench/lib/delay-querier.ts):
//   1. flood: a heavy actor's 24 queries × 10 one-hour splits spread over 1, 2 and 3 replicas, then a light actor
//      of the same tenant asks a 5-split query through the last replica; its latency against its latency idle.
//      Also the flood's own duration: a tenant's queue runs on its owner, with that replica's share of the slots.
//   2. throughput: 24 clients, 12 tenants, one-split queries answered at once, spread over 1, 2 and 3 replicas.
//   3. failover: 3 replicas; clients ask through the two that do not own their tenant; the owner is SIGKILLed.
//      How long until the survivors no longer list it, the slowest query across the kill, and failures (none).
// Run: npx tsx bench/replicas.ts. Env: BENCH_LATENCY_MS (flood sub-query latency, default 50).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ownerOf } from "../src/frontend/replicas/owner.js";
import { type Identity, identitySigner } from "../src/identity/signed-identity.js";
import { startNats } from "../test/support/nats.js";
import { allSee, type Replica, startReplica } from "../test/support/replica.js";
import { startDelayQuerier } from "./lib/delay-querier.js";

const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 50);
const SECRET = "b".repeat(32);
const HOUR = 3600;
const T0 = Math.floor(1_700_000_000 / HOUR) * HOUR; // on an hour boundary: N hours are N splits
const HEARTBEAT_MS = 250;
const TIMEOUT_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, d = 0) => n.toFixed(d);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const nats = await startNats();
const querier = await startDelayQuerier({ jitter: 0.2 });
const sign = await identitySigner({ secret: SECRET, ttl: 60_000 });
const scratch = mkdtempSync(join(tmpdir(), "fairgate-bench-replicas-"));
let group = 0;
let queries = 0;

/** `n` replicas of their own (a prefix of their own): they see only each other. */
async function cluster(n: number, maxConcurrent: number, idleActorSlots: number): Promise<Replica[]> {
  const prefix = `bench${process.pid}_${group++}`;
  const frontend = {
    queriers: [{ url: querier.url, max_concurrent: maxConcurrent, idle_actor_slots: idleActorSlots }],
    health_check: { interval: "10s" },
    limits: { split_metric_queries_by_interval: "1h" },
    // The bench measures queues and hops: no answer may come from a cache.
    cache: { results: { enabled: false }, metadata: { enabled: false }, empty_logs: { enabled: false } },
  };
  const ids = Array.from({ length: n }, (_, i) => `r${i}`);
  const started = await Promise.all(
    ids.map((id) =>
      startReplica({
        id,
        natsUrl: nats.url,
        prefix,
        identitySecret: SECRET,
        frontend,
        heartbeatMs: HEARTBEAT_MS,
        timeoutMs: TIMEOUT_MS,
        scratch,
      }),
    ),
  );
  await allSee(started);
  // Warm: every replica has run local and remote sub-queries (compiled, connections open) before it is measured.
  for (let round = 0; round < 3; round++)
    await Promise.all(started.flatMap((r) => ids.map((_, t) => query(r, person(`warm${t}`, "w"), 2, 0))));
  return started;
}
const stop = (rs: Replica[]) => Promise.all(rs.map((r) => r.proc.close()));

const person = (tenant: string, user: string): Identity => ({
  subject: user,
  tenants: [tenant],
  actorPath: `users|${user}`,
  scopes: [],
});

/** One query_range of `hours` one-hour splits, each sub-query ~delayMs on the querier; every query is distinct. */
async function query(r: Replica, who: Identity, hours: number, delayMs: number): Promise<{ ms: number; ok: boolean }> {
  const qs = new URLSearchParams({
    query: `up{n="${queries++}"}`,
    start: String(T0),
    end: String(T0 + hours * HOUR),
    step: "60",
    delay_ms: String(delayMs),
  });
  const t = performance.now();
  try {
    const res = await fetch(`${r.url}/api/v1/query_range?${qs}`, {
      headers: { "x-fairgate-identity": await sign(who) },
    });
    await res.arrayBuffer();
    return { ms: performance.now() - t, ok: res.status === 200 };
  } catch {
    return { ms: performance.now() - t, ok: false };
  }
}

async function flood(n: number) {
  const rs = await cluster(n, 4, 2);
  try {
    const light = person("t", "light");
    const heavy = person("t", "heavy");
    const last = rs[rs.length - 1]!;
    const idle: number[] = [];
    for (let i = 0; i < 5; i++) idle.push((await query(last, light, 5, LATENCY)).ms);
    const served = querier.log.length;
    const t = performance.now();
    const all = Array.from({ length: 24 }, (_, i) => query(rs[i % n]!, heavy, 10, LATENCY));
    while (querier.log.length < served + 8) await sleep(5);
    // Three in a row while the flood is queued (it lasts seconds): their median.
    const underFlood: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await query(last, light, 5, LATENCY);
      if (!r.ok) throw new Error("the light query failed under the flood");
      underFlood.push(r.ms);
    }
    const done = await Promise.all(all);
    if (done.some((d) => !d.ok)) throw new Error("a flood query failed");
    const [lightIdle, lightFlood] = [median(idle), median(underFlood)];
    return {
      light_idle_ms: lightIdle,
      light_flood_ms: lightFlood,
      ratio: lightFlood / lightIdle,
      flood_s: (performance.now() - t) / 1000,
    };
  } finally {
    await stop(rs);
  }
}

async function throughput(n: number, seconds = 4) {
  const rs = await cluster(n, 24, 0);
  try {
    let done = 0;
    let failed = 0;
    const until = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: 24 }, async (_, c) => {
        for (let i = 0; performance.now() < until; i++) {
          const r = await query(rs[(c + i) % n]!, person(`t${c % 12}`, `u${c}`), 1, 0);
          if (r.ok) done++;
          else failed++;
        }
      }),
    );
    if (failed) throw new Error(`${failed} queries failed`);
    return done / seconds;
  } finally {
    await stop(rs);
  }
}

async function failover() {
  const rs = await cluster(3, 8, 0);
  const ids = rs.map((r) => r.id);
  const owner = rs.find((r) => r.id === ownerOf("t", ids))!;
  const others = rs.filter((r) => r !== owner);
  let stopped = false;
  const results: { start: number; ms: number; ok: boolean }[] = [];
  try {
    const clients = Array.from({ length: 8 }, async (_, c) => {
      for (let i = 0; !stopped; i++) {
        const start = performance.now();
        results.push({ start, ...(await query(others[(c + i) % 2]!, person("t", `u${c}`), 2, 20)) });
      }
    });
    await sleep(1000);
    const killedAt = performance.now();
    process.kill(-owner.proc.pid, "SIGKILL");
    await allSee(others);
    const movedMs = performance.now() - killedAt;
    await sleep(1000);
    stopped = true;
    await Promise.all(clients);
    const before = results.filter((r) => r.start < killedAt - 200);
    const across = results.filter((r) => r.start < killedAt && r.start + r.ms > killedAt);
    const typical = median(before.map((r) => r.ms));
    return {
      moved_ms: movedMs,
      typical_query_ms: typical,
      slowest_across_kill_ms: Math.max(...across.map((r) => r.ms)),
      failed: results.filter((r) => !r.ok).length,
      queries: results.length,
    };
  } finally {
    stopped = true;
    await stop(others);
    await owner.proc.close();
  }
}

const out: Record<string, unknown> = {};
try {
  const floods: Record<string, Awaited<ReturnType<typeof flood>>> = {};
  for (const n of [1, 2, 3]) {
    floods[n] = await flood(n);
    const f = floods[n];
    console.log(
      `flood via ${n} replica(s): light ${fmt(f.light_flood_ms)} ms under flood vs ${fmt(f.light_idle_ms)} ms idle ` +
        `(×${fmt(f.ratio, 2)}); the flood took ${fmt(f.flood_s, 1)} s`,
    );
  }
  out.flood = floods;
  const qps: Record<string, number> = {};
  for (const n of [1, 2, 3]) {
    qps[n] = await throughput(n);
    console.log(`throughput via ${n} replica(s): ${fmt(qps[n])} queries/s (×${fmt(qps[n] / qps[1]!, 2)} of one)`);
  }
  out.qps = qps;
  const f = await failover();
  console.log(
    `failover: owner SIGKILLed; survivors dropped it after ${fmt(f.moved_ms)} ms (timeout ${TIMEOUT_MS} ms); ` +
      `slowest query across the kill ${fmt(f.slowest_across_kill_ms)} ms (typical ${fmt(f.typical_query_ms)} ms); ` +
      `${f.failed} of ${f.queries} queries failed`,
  );
  out.failover = f;
} finally {
  await Promise.all([nats.close(), querier.close()]);
}
console.log(`BENCH_JSON ${JSON.stringify(out)}`);
process.exit(0);
