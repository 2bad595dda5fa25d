import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend, type FrontendDeps } from "../../src/frontend/app.js";
import { buildCache } from "../../src/frontend/cache/build.js";
import type { Cache } from "../../src/frontend/cache/cache.js";
import type { RingCache } from "../../src/frontend/cache/ring.js";
import { ask, metricValue } from "../support/frontend-ask.js";
import { startMemcached, type TestMemcached } from "../support/memcached.js";
import { startPrometheus, type TestPrometheus } from "../support/prometheus.js";

// The results cache over a ring of three real memcached servers, in front of a real Prometheus:
// values land on all three, and when one dies (killed, or frozen with SIGSTOP) queries keep
// answering as Prometheus does, only the keys that server owns miss, and the others still hit.

const DAY = 86_400;
const EXPRESSIONS = [
  "sum by (job, code) (rate(http_requests_total[5m]))",
  "sum by (job) (rate(http_requests_total[5m]))",
  "sum(rate(http_requests_total[5m]))",
  "max by (instance) (node_memory_free_bytes)",
  "avg by (job) (queue_depth)",
  "count by (job) (up)",
];

/** One get or set through the ring, with the server that owns its key. */
interface Use {
  key: string;
  server: string;
  ok: boolean;
}

/** The ring the config builds, recording every get (ok: a hit) and set (ok: stored) with its key's server. */
class RecordedRing implements Cache {
  gets: Use[] = [];
  sets: Use[] = [];
  constructor(readonly ring: RingCache) {}
  async get(key: string) {
    const value = await this.ring.get(key);
    this.gets.push({ key, server: this.ring.serverFor(key).id, ok: value !== undefined });
    return value;
  }
  async set(key: string, value: Uint8Array, ttlSeconds: number) {
    const ok = await this.ring.set(key, value, ttlSeconds);
    this.sets.push({ key, server: this.ring.serverFor(key).id, ok });
    return ok;
  }
  delete = (key: string) => this.ring.delete(key);
  close = () => this.ring.close();
}

describe("results cache on a ring of three real memcached servers", () => {
  let prom: TestPrometheus;
  let mcs: TestMemcached[];
  const frontends: Frontend[] = [];
  let forms: Record<string, string>[];

  const config = () =>
    parseConfig({
      frontend: {
        queriers: [{ url: prom.url, max_concurrent: 4 }],
        limits: { split_metric_queries_by_interval: "24h", max_cache_freshness: "10m" },
        cache: {
          backend: "memcached",
          memcached: {
            servers: mcs.map((m) => m.address),
            timeout: "150ms",
            breaker_failures: 3,
            breaker_cooldown: "1s",
          },
        },
      },
    }).frontend!;
  const frontend = (deps: FrontendDeps = {}) => {
    const f = createFrontend(config(), { log: () => {}, ...deps });
    frontends.push(f);
    return f;
  };
  const recorded = () => {
    const cache = new RecordedRing(buildCache(config().cache, {}) as RingCache);
    return { cache, f: frontend({ cache }) };
  };
  const direct = async (form: Record<string, string>) => {
    const res = await fetch(`${prom.url}/api/v1/query_range`, { method: "POST", body: new URLSearchParams(form) });
    return res.json();
  };
  /** Every query once, all at a time; each answer must be Prometheus' own. Returns the cache outcomes. */
  const askAll = async (f: Frontend) => {
    const answers = await Promise.all(forms.map((form) => ask(f, form)));
    for (const [i, a] of answers.entries()) {
      expect(a.status).toBe(200);
      expect(a.body).toEqual(await direct(forms[i]!));
    }
    return answers.map((a) => a.cache);
  };
  const stats = () => Promise.all(mcs.map(async (m) => (m.running() ? m.stats() : undefined)));
  const delta = (after: Record<string, string> | undefined, before: Record<string, string> | undefined, k: string) =>
    Number(after?.[k]) - Number(before?.[k]);

  beforeAll(async () => {
    [prom, ...mcs] = await Promise.all([startPrometheus({ days: 7 }), ...[1, 2, 3].map(() => startMemcached())]);
    // Twelve 3-day queries (four split pieces each), all older than max_cache_freshness.
    const lastMidnight = Math.floor(prom.end / DAY) * DAY;
    forms = [4, 5].flatMap((days) =>
      EXPRESSIONS.map((query) => {
        const start = lastMidnight - days * DAY + 2 * 3600;
        return { query, start: String(start), end: String(start + 3 * DAY), step: "300" };
      }),
    );
  }, 180_000);
  afterAll(async () => {
    await Promise.all([prom?.close(), ...(mcs ?? []).map((m) => m.close())]);
  });
  beforeEach(async () => {
    for (const m of mcs) {
      m.resume();
      if (!m.running()) await m.start();
      await m.flushAll();
    }
  });
  afterEach(async () => {
    for (const m of mcs) m.resume();
    await Promise.all(frontends.splice(0).map((f) => f.close()));
  });

  it("stores values on all three servers, each key only on its owner, and answers the repeat from them", async () => {
    const { cache, f } = recorded();
    expect(await askAll(f)).toEqual(Array(forms.length).fill("miss"));
    const stored = cache.sets.filter((s) => s.ok);
    expect(stored).toHaveLength(cache.sets.length);
    // Each server holds exactly the keys the ring gave it: every one of the three holds some.
    const items = (await stats()).map((s) => Number(s?.curr_items));
    const owned = mcs.map((m) => new Set(stored.filter((s) => s.server === m.address).map((s) => s.key)).size);
    expect(items).toEqual(owned);
    for (const n of owned) expect(n).toBeGreaterThan(0);

    cache.gets = [];
    expect(await askAll(f)).toEqual(Array(forms.length).fill("hit"));
    expect(cache.gets.filter((g) => !g.ok)).toEqual([]);
    expect(new Set(cache.gets.map((g) => g.server)).size).toBeGreaterThan(1);
  });

  it("with one server killed, keeps answering; only its keys miss, the other servers' keys all hit", async () => {
    const { cache, f } = recorded();
    await askAll(f);
    const [live1, dead, live2] = [mcs[0]!, mcs[1]!, mcs[2]!];
    await dead.stop();
    const before = await stats();
    cache.gets = [];

    const outcomes = await askAll(f);
    const onDead = cache.gets.filter((g) => g.server === dead.address);
    const onLive = cache.gets.filter((g) => g.server !== dead.address);
    expect(onDead.length).toBeGreaterThan(0);
    expect(onLive.length).toBeGreaterThan(0);
    expect(onDead.filter((g) => g.ok)).toEqual([]);
    expect(onLive.filter((g) => !g.ok)).toEqual([]);
    // The live servers saw those hits themselves, and not one miss.
    const after = await stats();
    for (const i of [0, 2]) {
      const server = [live1, dead, live2][i]!.address;
      expect(delta(after[i], before[i], "get_hits")).toBe(onLive.filter((g) => g.server === server).length);
      expect(delta(after[i], before[i], "get_misses")).toBe(0);
    }
    // A query whose whole answer the live servers hold is still a hit.
    expect(outcomes).toContain("hit");
    expect(outcomes.some((o) => o !== "hit")).toBe(true);
  });

  it("with one server frozen (SIGSTOP), gives up on it at its deadline, bypasses it, and names it", async () => {
    const log: string[] = [];
    const f = frontend({ log: (line) => log.push(line) });
    await askAll(f);
    const frozen = mcs[2]!;
    const live = mcs.slice(0, 2);
    await frozen.pause();
    const before = await Promise.all(live.map((m) => m.stats()));

    // Nothing is answered on the frozen server's connection: only the deadline ends those operations.
    const outcomes = await askAll(f);
    expect(outcomes).toContain("hit");
    expect(outcomes.some((o) => o !== "hit")).toBe(true);
    const after = await Promise.all(live.map((m) => m.stats()));
    for (const i of [0, 1]) {
      expect(delta(after[i], before[i], "get_hits")).toBeGreaterThan(0);
      expect(delta(after[i], before[i], "get_misses")).toBe(0);
    }
    expect(log).toEqual([expect.stringContaining(`cache: memcached ${frozen.address} is failing`)]);
    expect(log[0]).toContain("the other servers keep serving theirs");
    const server = (m: TestMemcached) => `server="${m.address}"`;
    expect(await metricValue(f, "fairgate_cache_bypassed", server(frozen))).toBe(1);
    for (const m of live) expect(await metricValue(f, "fairgate_cache_bypassed", server(m))).toBe(0);
    const errors = async (m: TestMemcached) =>
      (await metricValue(f, "fairgate_cache_errors_total", `op="get",${server(m)}`)) +
      (await metricValue(f, "fairgate_cache_errors_total", `op="set",${server(m)}`));
    expect(await errors(frozen)).toBeGreaterThanOrEqual(3);
    for (const m of live) expect(await errors(m)).toBe(0);
  });
});
