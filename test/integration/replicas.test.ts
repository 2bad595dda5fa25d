import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shareOf } from "../../src/frontend/replicas/budget.js";
import { ownerOf } from "../../src/frontend/replicas/owner.js";
import { type Identity, identitySigner } from "../../src/identity/signed-identity.js";
import { type CountingProxy, startCountingProxy } from "../support/counting-proxy.js";
import { startMemcached, type TestMemcached } from "../support/memcached.js";
import { startNats, type TestNats } from "../support/nats.js";
import { startPrometheus, type TestPrometheus } from "../support/prometheus.js";
import { allSee, liveOf, person, type Replica, replicaStatus, startReplica, until } from "../support/replica.js";
import { freePort } from "../support/supervised.js";

// Three (then four) `fairgate frontend` processes sharing one nats-server for membership, in front of a real
// Prometheus behind a counting proxy. Frontend mode with identities signed as the edge signs them: the edge
// changes nothing in what travels between replicas, and three edges more would only slow the test down.
// Each replica is its own process, so that one can be SIGKILLed mid-flood.

const SECRET = "r".repeat(32);
const MAX_CONCURRENT = 4;
const IDLE_ACTOR_SLOTS = 2;
const HEARTBEAT_MS = 250;
const TIMEOUT_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("several frontend replicas: one fair queue per tenant, one querier budget", () => {
  let nats: TestNats;
  let prom: TestPrometheus;
  let proxy: CountingProxy;
  let memcached: TestMemcached[];
  let sign: (id: Identity) => Promise<string>;
  const replicas = new Map<string, Replica>();
  const scratch = mkdtempSync(join(tmpdir(), "fairgate-replicas-"));
  const prefix = `rep${process.pid}`;

  /** A replica named `id`; `natsUrl` overrides the shared NATS (one it cannot reach). */
  async function start(id: string, natsUrl = nats.url): Promise<Replica> {
    const r = await startReplica({
      id,
      natsUrl,
      prefix,
      identitySecret: SECRET,
      heartbeatMs: HEARTBEAT_MS,
      timeoutMs: TIMEOUT_MS,
      scratch,
      frontend: {
        queriers: [
          {
            url: proxy.url,
            max_concurrent: MAX_CONCURRENT,
            idle_actor_slots: IDLE_ACTOR_SLOTS,
            health_paths: ["/-/ready"],
          },
        ],
        health_check: { interval: "10s" },
        limits: { split_metric_queries_by_interval: "6h" },
        // One results cache for all replicas: a ring over three memcached servers.
        cache: { backend: "memcached", memcached: { servers: memcached.map((m) => m.address) } },
      },
    });
    replicas.set(id, r);
    return r;
  }
  const status = replicaStatus;
  const see = (ids: string[]) => allSee(ids.map((id) => replicas.get(id)!));

  const range = (query: string) => ({
    query,
    start: String(prom.end - 86_400),
    end: String(prom.end),
    step: "300",
  });
  const ask = async (r: Replica | string, params: Record<string, string>, who: Identity, path = "query_range") => {
    const base = typeof r === "string" ? r : r.url;
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
    if (typeof r !== "string") headers["x-fairgate-identity"] = await sign(who);
    const res = await fetch(`${base}/api/v1/${path}`, {
      method: "POST",
      headers,
      body: new URLSearchParams(params).toString(),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const direct = (params: Record<string, string>, path = "query_range") => ask(prom.url, params, person("", ""), path);

  beforeAll(async () => {
    [nats, prom, sign, memcached] = await Promise.all([
      startNats(),
      startPrometheus({ days: 2 }),
      identitySigner({ secret: SECRET, ttl: 60_000 }),
      Promise.all([startMemcached(), startMemcached(), startMemcached()]),
    ]);
    proxy = await startCountingProxy(prom.url);
    await Promise.all(["r-a", "r-b", "r-c"].map((id) => start(id)));
    await see(["r-a", "r-b", "r-c"]);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([...replicas.values()].map((r) => r.proc.close()));
    await Promise.all([proxy?.close(), nats?.close(), prom?.close(), ...(memcached ?? []).map((m) => m.close())]);
  });

  it("shares each querier's slots: 4 regular and 2 idle-actor slots over 3 replicas, an idle-actor slot each", async () => {
    const shares = await Promise.all(
      ["r-a", "r-b", "r-c"].map(async (id) => (await status(replicas.get(id)!)).queriers[0]),
    );
    // 6 slots, 2 each; 2 idle-actor slots dealt whole would leave one replica (and its tenants' light users) none,
    // so the third is made of a regular slot.
    expect(shares).toEqual(Array(3).fill(expect.objectContaining({ maxConcurrent: 1, idleActorSlots: 1 })));
    const metrics = await (await fetch(`${replicas.get("r-a")!.admin}/metrics`)).text();
    expect(metrics).toMatch(/fairgate_querier_share_slots\{querier="[^"]+",kind="regular"\} 1/);
    expect(metrics).toMatch(/fairgate_querier_share_slots\{querier="[^"]+",kind="idle_actor"\} 1/);
  });

  it("answers through each replica as Prometheus does, cold and warm, and async queries too", async () => {
    const alice = person("team-a", "alice");
    const queries: { params: Record<string, string>; path: string }[] = [
      { params: range("sum by (job) (rate(http_requests_total[5m]))"), path: "query_range" },
      { params: { query: "sum by (instance) (up)", time: String(prom.end) }, path: "query" },
      { params: { "match[]": "up", start: String(prom.end - 86_400), end: String(prom.end) }, path: "series" },
    ];
    for (const q of queries) {
      const want = await direct(q.params, q.path);
      expect(want.status).toBe(200);
      for (const round of ["cold", "warm"])
        for (const id of ["r-a", "r-b", "r-c"])
          expect(await ask(replicas.get(id)!, q.params, alice, q.path), `${q.path} ${round} via ${id}`).toEqual(want);
    }
    // An async query runs through the same pipeline: its sub-queries go to the owner as well.
    const notOwner = ["r-a", "r-b", "r-c"].find((id) => id !== ownerOf("team-a", ["r-a", "r-b", "r-c"]))!;
    const r = replicas.get(notOwner)!;
    const params = range("max(queue_depth)");
    const ticket = await ask(r, { ...params, async: "true" }, alice);
    expect(ticket.status).toBe(202);
    const id = (ticket.body as { data: { id: string } }).data.id;
    let answer: unknown;
    await until(
      async () => {
        const res = await fetch(`${r.url}/fairgate/api/v1/async/${id}`, {
          headers: { "x-fairgate-identity": await sign(alice) },
        });
        if (res.status === 200) answer = await res.json();
        return res.status !== 204;
      },
      30_000,
      () => r.proc.output(),
    );
    expect(answer).toEqual((await direct(params)).body);
  });

  it("shares one results cache ring: what one replica asked, the others answer without the querier", async () => {
    const bob = person("team-c", "bob");
    // Older than max_cache_freshness, so that every piece is cached.
    const params = { ...range("sum by (job) (rate(http_requests_total[10m]))"), end: String(prom.end - 3600) };
    const want = await direct(params);
    expect(await ask(replicas.get("r-a")!, params, bob)).toEqual(want);
    const before = proxy.arrivals.length;
    for (const id of ["r-b", "r-c"]) expect(await ask(replicas.get(id)!, params, bob), id).toEqual(want);
    expect(proxy.arrivals.length - before).toBe(0);
    // One of the three memcached servers gone: every replica still answers as Prometheus does.
    await memcached[0]!.stop();
    try {
      for (const [i, id] of ["r-a", "r-b", "r-c"].entries()) {
        expect(await ask(replicas.get(id)!, params, bob), id).toEqual(want);
        const other = { ...params, query: `sum by (instance) (rate(http_requests_total[10m])) + ${i}` };
        expect(await ask(replicas.get(id)!, other, bob), id).toEqual(await direct(other));
      }
    } finally {
      await memcached[0]!.start();
    }
  });

  it("is fair across replicas: a light user via C goes before most of a flood entering via A and B", async () => {
    const arrived = proxy.arrivals.length;
    proxy.delayMs = 100;
    try {
      const heavy = person("team-f", "heavy");
      const light = person("team-f", "light");
      // Queries that differ, so no results cache answers any of them: 8 × 4 pieces.
      const flood = Array.from({ length: 8 }, (_, i) =>
        ask(replicas.get(i % 2 ? "r-b" : "r-a")!, range(`sum(rate(http_requests_total[5m])) + ${i}`), heavy),
      );
      await until(
        () => proxy.arrivals.slice(arrived).filter((a) => a.actor === "users|heavy").length >= 2,
        10_000,
        () => "the flood did not start",
      );
      const lightAnswer = await ask(replicas.get("r-c")!, range("sum(rate(http_requests_total[5m])) * 2"), light);
      const answers = await Promise.all(flood);
      expect(lightAnswer.status).toBe(200);
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
      const seen = proxy.arrivals.slice(arrived).filter((a) => a.tenant === "team-f");
      const lastLight = seen.map((a) => a.actor).lastIndexOf("users|light");
      const floodBefore = seen.slice(0, lastLight).filter((a) => a.actor === "users|heavy").length;
      const floodTotal = seen.filter((a) => a.actor === "users|heavy").length;
      // Served in arrival order, the light user would come after the whole queued flood.
      expect(floodTotal).toBeGreaterThanOrEqual(32);
      expect(floodBefore, seen.map((a) => a.actor).join(" ")).toBeLessThan(floodTotal / 3);
      // One queue decided that order: the owner's. The others ran none of team-f's sub-queries themselves.
      const owner = ownerOf("team-f", ["r-a", "r-b", "r-c"]);
      for (const id of ["r-a", "r-b", "r-c"]) {
        const metrics = await (await fetch(`${replicas.get(id)!.admin}/metrics`)).text();
        expect(metrics.includes('fairgate_querier_time_seconds_total{user="team-f"}'), id).toBe(id === owner);
      }
    } finally {
      proxy.delayMs = 0;
    }
  });

  it("one tenant flooding alone uses every regular slot: the idle replicas lend it their shares", async () => {
    proxy.delayMs = 100;
    try {
      const owner = replicas.get(ownerOf("team-l", ["r-a", "r-b", "r-c"])!)!;
      // No replica has had work for a membership timeout: nobody borrows, and every share is its own.
      await sleep(TIMEOUT_MS + 2 * HEARTBEAT_MS);
      const own = (await status(owner)).queriers[0]!.maxConcurrent;
      expect(own).toBeLessThan(MAX_CONCURRENT);
      proxy.resetMax();
      const heavy = person("team-l", "heavy");
      const flood = Array.from({ length: 6 }, (_, i) =>
        ask(replicas.get(i % 2 ? "r-b" : "r-a")!, range(`sum(rate(http_requests_total[5m])) - ${i}`), heavy),
      );
      expect((await Promise.all(flood)).map((a) => a.status)).toEqual(Array(6).fill(200));
      // Its owner ran them all, on more than its own share: every regular slot (less one if its own idle-actor slot
      // was made of a regular one: see budget.ts; an idle-actor slot may add one).
      const ids = ["r-a", "r-b", "r-c"];
      const lent = shareOf(
        proxy.url,
        { maxConcurrent: MAX_CONCURRENT, idleActorSlots: IDLE_ACTOR_SLOTS },
        ids.map((id) => ({ id, busy: id === owner.id })),
        owner.id,
        true,
      ).maxConcurrent;
      expect(lent).toBeGreaterThanOrEqual(MAX_CONCURRENT - 1);
      expect(proxy.maxInflight).toBeGreaterThanOrEqual(lent);
      expect(proxy.maxInflight).toBeLessThanOrEqual(MAX_CONCURRENT + IDLE_ACTOR_SLOTS);
    } finally {
      proxy.delayMs = 0;
    }
  });

  it("the querier never holds more than max_concurrent + idle_actor_slots while replicas join and leave", async () => {
    proxy.delayMs = 50;
    const budget = MAX_CONCURRENT + IDLE_ACTOR_SLOTS;
    try {
      const tenants = Array.from({ length: 6 }, (_, i) => `team-${i}`);
      let stop = false;
      const failures: string[] = [];
      const load = tenants.map(async (tenant, t) => {
        for (let i = 0; !stop; i++) {
          const entry = [...replicas.values()].filter((r) => r.id !== "r-c")[(t + i) % 2]!;
          const res = await ask(entry, range(`sum(up) + ${t * 1000 + i}`), person(tenant, `u${t}`));
          if (res.status !== 200) failures.push(`${tenant} via ${entry.id}: ${JSON.stringify(res.body)}`);
        }
      });
      const steady: number[] = [];
      const changing: number[] = [];
      /** The most the querier held while `during` ran. */
      const peak = async (during: () => Promise<unknown>) => {
        proxy.resetMax();
        await during();
        return proxy.maxInflight;
      };
      // Settled: what a shrunk share still ran has ended (sub-queries take ~50 ms here).
      const settled = () => peak(() => sleep(1500));
      await until(
        () => proxy.inflight >= 3,
        10_000,
        () => "no load",
      );
      // The load's start is a change too: replicas that had nothing to run wake at once, and take back the
      // shares others borrowed a moment before (see budget.ts). Steady means after that.
      changing.push(await settled());
      steady.push(await settled());
      changing.push(await peak(async () => see([...replicas.keys(), (await start("r-d")).id].sort())));
      steady.push(await settled());
      changing.push(
        await peak(async () => {
          await replicas.get("r-c")!.proc.close(); // leaves, draining the sub-queries it has
          replicas.delete("r-c");
          await see(["r-a", "r-b", "r-d"]);
        }),
      );
      steady.push(await settled());
      stop = true;
      await Promise.all(load);
      expect(failures).toEqual([]);
      expect(steady).toEqual(steady.map(() => expect.any(Number)));
      for (const max of steady) expect(max, `steady peaks ${steady}`).toBeLessThanOrEqual(budget);
      expect(Math.max(...steady), "the load used the budget").toBeGreaterThanOrEqual(MAX_CONCURRENT);
      // During a change, briefly, one replica's share more: the work a shrunk (or left) share still runs.
      for (const max of changing) expect(max, `peaks while changing ${changing}`).toBeLessThanOrEqual(budget + 3);
    } finally {
      proxy.delayMs = 0;
    }
  });

  /**
   * A heavy user's flood of `tenant` entering through the replicas that do not own it; returns once the querier has
   * some of it.
   */
  async function floodPastOwner(tenant: string, queries: Record<string, string>[]) {
    const others = [...replicas.keys()].sort().filter((id) => id !== ownerOf(tenant, [...replicas.keys()]));
    const arrived = proxy.arrivals.length;
    const heavy = person(tenant, "heavy");
    const answers = Promise.all(queries.map((q, i) => ask(replicas.get(others[i % others.length]!)!, q, heavy)));
    await until(
      () => proxy.arrivals.length - arrived >= 3,
      10_000,
      () => "the flood did not start",
    );
    return { others, answers };
  }

  /** Every query of the flood answered 200, with Prometheus's own answer. */
  async function expectPrometheusAnswers(answers: { status: number }[], queries: Record<string, string>[]) {
    expect(answers.map((a) => a.status)).toEqual(Array(queries.length).fill(200));
    for (const [i, q] of queries.entries()) expect(answers[i], q.query).toEqual(await direct(q));
  }

  it("an owner that stops answering mid-flood (SIGSTOP): its tenant moves, every query answers 200", async () => {
    const ids = [...replicas.keys()].sort();
    proxy.delayMs = 100;
    const pid = replicas.get(ownerOf("team-s", ids)!)!.proc.pid;
    try {
      const queries = Array.from({ length: 6 }, (_, i) => range(`sum(rate(http_requests_total[5m])) / ${i + 1}`));
      const flood = await floodPastOwner("team-s", queries);
      process.kill(-pid, "SIGSTOP"); // its connections stay open: no reset tells the callers anything
      await see(flood.others);
      await expectPrometheusAnswers(await flood.answers, queries);
    } finally {
      process.kill(-pid, "SIGCONT");
      proxy.delayMs = 0;
    }
    await see(ids);
  });

  it("SIGKILL of the flood's owner mid-flood: every query answers 200 with Prometheus's answer", async () => {
    const owner = ownerOf("team-k", [...replicas.keys()])!;
    proxy.delayMs = 100;
    try {
      const queries = Array.from({ length: 8 }, (_, i) => range(`sum(rate(http_requests_total[5m])) - ${i}`));
      const flood = await floodPastOwner("team-k", queries);
      const killedAt = Date.now();
      process.kill(-replicas.get(owner)!.proc.pid, "SIGKILL");
      replicas.delete(owner);
      await see(flood.others);
      const movedMs = Date.now() - killedAt;
      await expectPrometheusAnswers(await flood.answers, queries);
      // Within one membership timeout, and a few heartbeats of slack for a loaded machine.
      expect(movedMs).toBeLessThan(TIMEOUT_MS + 8 * HEARTBEAT_MS);
    } finally {
      proxy.delayMs = 0;
    }
  });

  it("a replica that cannot reach NATS at start serves alone, and says so", async () => {
    const closed = `nats://127.0.0.1:${await freePort()}`;
    const lone = await start("r-lone", closed);
    const params = range("avg(node_memory_free_bytes)");
    expect(await ask(lone, params, person("team-a", "alice"))).toEqual(await direct(params));
    await until(() => /serving as a single replica/.test(lone.proc.output()), 10_000, lone.proc.output);
    expect(await liveOf(lone)).toEqual(["r-lone"]);
    expect((await status(lone)).queriers[0]!.maxConcurrent).toBe(MAX_CONCURRENT);
  });
});
