import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend, type FrontendDeps } from "../../src/frontend/app.js";
import { MemcachedCache } from "../../src/frontend/cache/memcached.js";
import { type Answer, ask, metricValue } from "../support/frontend-ask.js";
import { startMemcached, type TestMemcached } from "../support/memcached.js";
import { startPrometheus, type TestPrometheus } from "../support/prometheus.js";
import { freePort } from "../support/supervised.js";

// The results cache end to end: the frontend with a real memcached in front of a real Prometheus
// (through a counting proxy, so that "served from the cache" means "no query reached Prometheus"),
// and answers compared with what Prometheus itself says.

const DAY = 86_400;
const QUERY = "sum by (job, code) (rate(http_requests_total[5m]))";

interface Seen {
  path: string;
  params: URLSearchParams;
  headers: IncomingHttpHeaders;
}

/**
 * A querier stand-in that records every query (health checks excluded) and answers with `answer`;
 * `noStore` adds Cache-Control: no-store; queries for which `fail` says true are answered with a 422.
 */
interface Querier {
  url: string;
  seen: Seen[];
  noStore: boolean;
  fail?: (seen: Seen) => boolean;
  close(): Promise<void>;
}

async function startQuerier(answer: (seen: Seen, res: ServerResponse) => Promise<void>): Promise<Querier> {
  const q: Querier = { url: "", seen: [], noStore: false, close: async () => {} };
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url!, "http://x");
    if (url.pathname === "/ready" || url.pathname === "/-/ready") return void res.end("ready");
    const params = new URLSearchParams(url.search);
    for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString())) params.append(k, v);
    const seen = { path: url.pathname, params, headers: req.headers };
    q.seen.push(seen);
    if (q.noStore) res.setHeader("cache-control", "no-store");
    if (q.fail?.(seen)) {
      return void res
        .writeHead(422, { "content-type": "application/json" })
        .end('{"status":"error","errorType":"execution","error":"injected"}');
    }
    await answer(seen, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  q.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  q.close = () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));
  return q;
}

/** Forwards queries to Prometheus as they came. */
const proxyTo = (target: string) =>
  startQuerier(async (seen, res) => {
    const up = await fetch(`${target}${seen.path}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: seen.params.toString(),
    });
    res
      .writeHead(up.status, { "content-type": up.headers.get("content-type") ?? "application/json" })
      .end(Buffer.from(await up.arrayBuffer()));
  });

/** Seconds from a Prometheus (decimal seconds) or Loki (integer nanoseconds) time parameter. */
const seconds = (v: string) => (/^\d{13,}$/.test(v) ? Number(BigInt(v) / 1_000_000n) / 1000 : Number(v));

/** Matrices whose labels and values depend on the tenant (X-Scope-OrgID), with Loki-style stats. */
const tenantQuerier = () =>
  startQuerier(async (seen, res) => {
    const tenant = String(seen.headers["x-scope-orgid"]);
    const [start, end, step] = ["start", "end", "step"].map((k) => seconds(seen.params.get(k)!)) as [
      number,
      number,
      number,
    ];
    const values: [number, string][] = [];
    for (let t = start; t <= end; t += step) values.push([t, String(((t / step) % 1000) + tenant.length * 10_000)]);
    const stats = {
      summary: { execTime: 0.01, totalBytesProcessed: 1000, totalLinesProcessed: 10 },
      cache: { result: { entriesFound: 0, entriesRequested: 0 } },
    };
    const data = {
      resultType: "matrix",
      result: [{ metric: { tenant, secret: `${tenant}-only` }, values }],
      ...(seen.path.startsWith("/loki") ? { stats } : {}),
    };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "success", data }));
  });

const range = (start: number, end: number, query = QUERY, step = 300) => ({
  query,
  start: String(start),
  end: String(end),
  step: String(step),
});

describe("results cache with a real memcached and a real Prometheus", () => {
  let prom: TestPrometheus;
  let mc: TestMemcached;
  let proxy: Querier;
  const frontends: Frontend[] = [];
  // A 3-day window: S is 2 h after a UTC midnight, E three days later; E + 1 h is still inside the data.
  let S: number;
  let E: number;

  const frontend = (
    opts: {
      querier?: string;
      servers?: string[];
      memcached?: Record<string, unknown>;
      limits?: Record<string, unknown>;
    } & FrontendDeps = {},
  ) => {
    const { querier, servers, memcached, limits, ...deps } = opts;
    const f = createFrontend(
      parseConfig({
        frontend: {
          queriers: [{ url: querier ?? proxy.url, max_concurrent: 4 }],
          limits: { split_metric_queries_by_interval: "24h", max_cache_freshness: "10m", ...limits },
          cache: {
            backend: "memcached",
            memcached: {
              servers: servers ?? [mc.address],
              timeout: "150ms",
              breaker_failures: 3,
              breaker_cooldown: "1s",
              ...memcached,
            },
          },
        },
      }).frontend!,
      { log: () => {}, ...deps },
    );
    frontends.push(f);
    return f;
  };
  const direct = async (form: Record<string, string>) => {
    const res = await fetch(`${prom.url}/api/v1/query_range`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: await res.json() };
  };
  /** Runs f and returns what reached the querier meanwhile. */
  const during = async <T>(q: Querier, f: () => Promise<T>) => {
    const before = q.seen.length;
    const value = await f();
    return { value, seen: q.seen.slice(before) };
  };

  beforeAll(async () => {
    [prom, mc] = await Promise.all([startPrometheus({ days: 7 }), startMemcached()]);
    proxy = await proxyTo(prom.url);
    const lastMidnight = Math.floor(prom.end / DAY) * DAY;
    S = lastMidnight - 4 * DAY + 2 * 3600;
    E = S + 3 * DAY;
  }, 180_000);
  afterAll(async () => {
    await proxy?.close();
    await Promise.all([prom?.close(), mc?.close()]);
  });
  beforeEach(async () => {
    proxy.noStore = false;
    proxy.fail = undefined;
    await mc.flushAll();
  });
  afterEach(async () => {
    for (const f of frontends.splice(0)) f.close();
  });

  it("a 3-day query again: from memcached, no querier request, exactly as Prometheus answers", async () => {
    const f = frontend();
    const form = range(S, E);
    const first = await during(proxy, () => ask(f, form));
    expect(first.value.status).toBe(200);
    expect(first.value.cache).toBe("miss");
    expect(first.seen).toHaveLength(4); // split by UTC day
    const second = await during(proxy, () => ask(f, form));
    expect(second.value.cache).toBe("hit");
    expect(second.seen).toEqual([]);
    expect(second.value.body).toEqual(first.value.body);
    expect(second.value.body).toEqual((await direct(form)).body);
    expect(second.value.body.data.result).toHaveLength(6);
    // The repeat is answered whole, from the stored answer: one hit.
    expect(await metricValue(f, "fairgate_cache_requests_total", 'outcome="hit"')).toBe(1);
    // Another frontend on the same memcached (another replica) hits too.
    const other = await during(proxy, () => ask(frontend(), form));
    expect([other.value.cache, other.seen.length]).toEqual(["hit", 0]);
  });

  it("fetches only the new tail when time moves forward, and still answers as Prometheus does", async () => {
    let now = (E + 3600) * 1000;
    const f = frontend({ now: () => now });
    expect((await ask(f, range(S, E))).cache).toBe("miss");
    now += 3600_000;
    const moved = range(S + 3600, E + 3600);
    const later = await during(proxy, () => ask(f, moved));
    expect(later.value.cache).toBe("partial");
    expect(later.seen.map((s) => [s.params.get("start"), s.params.get("end")])).toEqual([
      [String(E + 300), String(E + 3600)],
    ]);
    expect(later.value.body).toEqual((await direct(moved)).body);
    const again = await during(proxy, () => ask(f, moved));
    expect([again.value.cache, again.seen.length]).toEqual(["hit", 0]);
    expect(again.value.body).toEqual(later.value.body);
  });

  it("caches requests off the step grid on their own grid", async () => {
    const f = frontend();
    const form = range(S + 17, E + 17);
    expect((await ask(f, form)).cache).toBe("miss");
    const hit = await during(proxy, () => ask(f, form));
    expect([hit.value.cache, hit.seen.length]).toEqual(["hit", 0]);
    expect(hit.value.body).toEqual((await direct(form)).body);
    // Another phase: never answered with the samples of the first grid.
    const shifted = range(S + 24, E + 24);
    const other = await during(proxy, () => ask(f, shifted));
    expect([other.value.cache, other.seen.length]).toEqual(["miss", 4]);
    expect(other.value.body).toEqual((await direct(shifted)).body);
    // The first phase moved by whole steps: only the tail is new.
    const stepped = range(S + 17 + 600, E + 17 + 600);
    const partial = await during(proxy, () => ask(f, stepped));
    expect(partial.value.cache).toBe("partial");
    expect(partial.seen.map((s) => [s.params.get("start"), s.params.get("end")])).toEqual([
      [String(E + 17 + 300), String(E + 17 + 600)],
    ]);
    expect(partial.value.body).toEqual((await direct(stepped)).body);
  });

  it("stores nothing newer than now − max_cache_freshness: the fresh tail is fetched every time", async () => {
    // freshness line E − 480 s: the last stored step is E − 600
    const f = frontend({ now: () => (E + 120) * 1000 });
    const form = range(S, E);
    await ask(f, form);
    for (let i = 0; i < 2; i++) {
      const again = await during(proxy, () => ask(f, form));
      expect(again.value.cache).toBe("partial");
      expect(again.seen.map((s) => [s.params.get("start"), s.params.get("end")])).toEqual([
        [String(E - 300), String(E)],
      ]);
      expect(again.value.body).toEqual((await direct(form)).body);
    }
  });

  it("keeps tenants apart: tenant B after tenant A misses, asks as B and never sees A's data", async () => {
    const q = await tenantQuerier();
    try {
      const f = frontend({ querier: q.url });
      const form = range(S, E);
      const a1 = await ask(f, form, { tenant: "tenant-a" });
      const a2 = await during(q, () => ask(f, form, { tenant: "tenant-a" }));
      expect([a1.cache, a2.value.cache, a2.seen.length]).toEqual(["miss", "hit", 0]);
      expect(a2.value.body).toEqual(a1.body);

      const b1 = await during(q, () => ask(f, form, { tenant: "tenant-bb" }));
      expect(b1.value.cache).toBe("miss");
      expect(b1.seen).toHaveLength(4);
      expect(b1.seen.map((s) => s.headers["x-scope-orgid"])).toEqual(Array(4).fill("tenant-bb"));
      expect(JSON.stringify(b1.value.body)).not.toContain("tenant-a");
      expect(b1.value.body.data.result.map((s: { metric: object }) => s.metric)).toEqual([
        { secret: "tenant-bb-only", tenant: "tenant-bb" },
      ]);
      const b2 = await during(q, () => ask(f, form, { tenant: "tenant-bb" }));
      expect([b2.value.cache, b2.seen.length]).toEqual(["hit", 0]);
      expect(b2.value.body).toEqual(b1.value.body);
      expect(b2.value.body).not.toEqual(a1.body);
    } finally {
      await q.close();
    }
  });

  it("gives each query its own data when every key hashes alike", async () => {
    const f = frontend({ cacheKeyHash: () => "same" });
    const q1 = range(S, E, "sum by (job) (rate(http_requests_total[5m]))");
    const q2 = range(S, E, "sum by (code) (rate(http_requests_total[5m]))");
    const [d1, d2] = await Promise.all([direct(q1), direct(q2)]);
    expect(d1.body).not.toEqual(d2.body);
    expect((await ask(f, q1)).body).toEqual(d1.body);
    const second = await ask(f, q2);
    expect(second.cache).not.toBe("hit");
    expect(second.body).toEqual(d2.body);
    for (const [form, want] of [
      [q1, d1],
      [q2, d2],
      [q1, d1],
    ] as const)
      expect((await ask(f, form)).body).toEqual(want.body);
  });

  it("stores a value larger than memcached's item size (1 MiB) in chunks, and reads it back", async () => {
    const f = frontend();
    // One UTC day of 102 series (a histogram's buckets and the request counters) at 15 s: one split
    // piece, about 1.6 MiB compressed.
    const day = Math.floor(S / DAY) * DAY + DAY;
    const form = range(
      day,
      day + DAY - 15,
      '{__name__=~"http_request_duration_seconds_bucket|http_requests_total"}',
      15,
    );
    const setsBefore = Number((await mc.stats()).cmd_set);
    const first = await ask(f, form);
    expect([first.status, first.cache]).toEqual([200, "miss"]);
    const written = await metricValue(f, "fairgate_cache_bytes_total", 'direction="written"');
    expect(written).toBeGreaterThan(1024 * 1024);
    // The extents' entry, and the whole answer beside it, each in chunks under a manifest.
    expect(Number((await mc.stats()).cmd_set) - setsBefore).toBeGreaterThanOrEqual(
      2 + Math.ceil(written / 2 / (1024 * 1024 - 257)),
    );
    expect(await metricValue(f, "fairgate_cache_skipped_total", 'reason="too_large"')).toBe(0);
    const second = await during(proxy, () => ask(f, form));
    expect([second.value.cache, second.seen.length]).toEqual(["hit", 0]);
    expect(second.value.body).toEqual((await direct(form)).body);
  });

  it("chunks every entry when max_item_bytes is small (2048)", async () => {
    const f = frontend({ memcached: { max_item_bytes: 2048 } });
    const form = range(S, E);
    const setsBefore = Number((await mc.stats()).cmd_set);
    await ask(f, form);
    expect(Number((await mc.stats()).cmd_set) - setsBefore).toBeGreaterThan(4 * 2);
    const second = await during(proxy, () => ask(f, form));
    expect([second.value.cache, second.seen.length]).toEqual(["hit", 0]);
    expect(second.value.body).toEqual((await direct(form)).body);
  });

  it("does not serve nor store requests with Cache-Control: no-cache", async () => {
    const f = frontend();
    const form = range(S, E);
    const bypass = await during(proxy, () => ask(f, form, { headers: { "cache-control": "no-cache" } }));
    expect([bypass.value.status, bypass.value.cache, bypass.seen.length]).toEqual([200, null, 4]);
    expect((await ask(f, form)).cache).toBe("miss"); // nothing was stored
    expect((await ask(f, form)).cache).toBe("hit");
    const again = await during(proxy, () => ask(f, form, { headers: { "cache-control": "no-cache" } }));
    expect(again.seen).toHaveLength(4); // not served from the cache either
    expect(again.value.body).toEqual((await direct(form)).body);
  });

  it("does not store answers the querier marks Cache-Control: no-store", async () => {
    const f = frontend();
    const form = range(S, E);
    proxy.noStore = true;
    await ask(f, form);
    const second = await during(proxy, () => ask(f, form));
    expect([second.value.cache, second.seen.length]).toEqual(["miss", 4]);
    proxy.noStore = false;
    await ask(f, form);
    expect((await ask(f, form)).cache).toBe("hit");
  });

  it("never caches errors", async () => {
    const f = frontend();
    // Prometheus' own error (bad regex), twice: both reach Prometheus.
    const bad = range(S, E, 'label_replace(up, "x", "$1", "job", "(")');
    const refused = await direct(bad);
    expect(refused.status).toBe(422);
    for (let i = 0; i < 2; i++) {
      const r = await during(proxy, () => ask(f, bad));
      expect([r.value.status, r.value.body]).toEqual([refused.status, refused.body]);
      expect(r.seen.length).toBeGreaterThanOrEqual(1);
    }
    // An injected execution error on one piece: the next run asks again, and succeeds.
    // (Matched by query: pieces of the bad query that were cut short may still reach the proxy.)
    const form = range(S, E);
    let failures = 1;
    proxy.fail = (seen) => seen.params.get("query") === QUERY && failures-- > 0;
    expect((await ask(f, form)).status).toBe(422);
    const retry = await during(proxy, () => ask(f, form));
    expect(retry.value.status).toBe(200);
    expect(retry.seen.length).toBeGreaterThanOrEqual(1);
    expect(retry.value.body).toEqual((await direct(form)).body);
    expect((await ask(f, form)).cache).toBe("hit");
  });

  it("does not cache a query with an @ time past the freshness line, and caches one with an old @ time", async () => {
    const f = frontend({ now: () => (E + 120) * 1000 });
    const old = { start: S, end: S + 2 * DAY };
    const recent = range(old.start, old.end, `sum by (job) (rate(http_requests_total[5m] @ ${E}))`);
    await ask(f, recent);
    const again = await during(proxy, () => ask(f, recent));
    expect([again.value.cache, again.seen.length]).toEqual(["miss", 3]);
    expect(again.value.body).toEqual((await direct(recent)).body);
    const pinned = range(old.start, old.end, `sum by (job) (rate(http_requests_total[5m] @ ${S + 3600}))`);
    await ask(f, pinned);
    expect((await ask(f, pinned)).cache).toBe("hit");
  });

  it("fills Loki's data.stats.cache.result, on a miss and on a hit", async () => {
    const q = await tenantQuerier();
    try {
      const f = frontend({ querier: q.url });
      const form = { query: 'sum(count_over_time({app="api"}[5m]))', start: String(S), end: String(E), step: "300" };
      const miss = await ask(f, form, { path: "/loki/api/v1/query_range" });
      expect(miss.cache).toBe("miss");
      expect(miss.body.data.stats.cache.result).toMatchObject({
        entriesRequested: 4,
        entriesFound: 0,
        entriesStored: 4,
      });
      const hit = await ask(f, form, { path: "/loki/api/v1/query_range" });
      expect(hit.cache).toBe("hit");
      expect(hit.body.data.result).toEqual(miss.body.data.result);
      expect(hit.body.data.stats?.cache?.result).toMatchObject({
        entriesRequested: 4,
        entriesFound: 4,
        entriesStored: 0,
      });
    } finally {
      await q.close();
    }
  });

  describe("when memcached fails", () => {
    let down: TestMemcached;
    beforeAll(async () => {
      down = await startMemcached();
    });
    afterAll(() => down?.close());

    it("keeps answering while memcached is down, logs the outage once, and caches again after it is back", async () => {
      const log: string[] = [];
      const f = frontend({ servers: [down.address], log: (line) => log.push(line) });
      const form = range(S, E);
      const expected = (await direct(form)).body;
      const cold = await ask(f, form);
      expect(cold.cache).toBe("miss");
      expect((await ask(f, form)).cache).toBe("hit");

      // Killed while queries are in flight (moved by whole steps: partly cached, so they read and write).
      const moved = [1, 2, 3, 4, 5, 6].map((k) => range(S + k * 300, E + k * 300));
      const inflight = Promise.all(moved.map((m) => ask(f, m)));
      await new Promise((r) => setTimeout(r, 20));
      await down.stop();
      for (const [i, a] of (await inflight).entries()) {
        expect(a.status).toBe(200);
        expect(a.body).toEqual((await direct(moved[i]!)).body);
      }

      const outage: Answer[] = [];
      for (let i = 0; i < 8; i++) outage.push(await ask(f, form));
      for (const a of outage) {
        expect([a.status, a.cache]).toEqual([200, "miss"]);
        expect(a.body).toEqual(expected);
      }
      // Never waits on the dead cache for long: at most about one deadline (150 ms) over an uncached query.
      expect(Math.max(...outage.map((a) => a.ms))).toBeLessThan(cold.ms + 1000);
      expect(log).toHaveLength(1);
      expect(log[0]).toContain(`memcached ${down.address} is failing`);
      const server = `server="${down.address}"`;
      expect(await metricValue(f, "fairgate_cache_bypassed", server)).toBe(1);
      // The breaker opened after 3 failed operations: gets, or sets of the queries in flight.
      const errors = await Promise.all(
        ["get", "set"].map((op) => metricValue(f, "fairgate_cache_errors_total", `op="${op}",${server}`)),
      );
      expect(errors[0]! + errors[1]!).toBeGreaterThanOrEqual(3);

      await down.start();
      await new Promise((r) => setTimeout(r, 1200)); // the breaker's cool-down
      const refill = await ask(f, form);
      expect([refill.status, refill.body]).toEqual([200, expected]);
      const back = await ask(f, form);
      expect([back.cache, back.body]).toEqual(["hit", expected]);
      expect(log.filter((l) => l.includes(`memcached ${down.address} is back`))).toHaveLength(1);
      expect(await metricValue(f, "fairgate_cache_bypassed", server)).toBe(0);
    });

    it("answers uncached when memcached is never reachable", async () => {
      const log: string[] = [];
      const nowhere = `127.0.0.1:${await freePort()}`;
      const f = frontend({ servers: [nowhere], log: (line) => log.push(line) });
      const form = range(S, E);
      const expected = (await direct(form)).body;
      for (let i = 0; i < 3; i++) {
        const r = await during(proxy, () => ask(f, form));
        expect([r.value.status, r.value.cache, r.seen.length]).toEqual([200, "miss", 4]);
        expect(r.value.body).toEqual(expected);
        expect(r.value.ms).toBeLessThan(5000);
      }
      expect(log).toHaveLength(1);
      expect(log[0]).toContain(`memcached ${nowhere} is failing`);
    });
  });
});

describe("MemcachedCache against a real memcached", () => {
  let small: TestMemcached;
  beforeAll(async () => {
    small = await startMemcached({ maxItemBytes: 64 * 1024 });
  });
  afterAll(() => small?.close());

  interface Events {
    errors: unknown[];
    states: boolean[];
    skipped: number[];
  }
  /** Runs f with a client of the small memcached (told 1 MiB items unless `over` says otherwise), then closes it. */
  const withClient = async (
    f: (c: MemcachedCache, events: Events) => Promise<void>,
    over: Partial<MemcachedCache["opts"]> = {},
  ) => {
    const events: Events = { errors: [], states: [], skipped: [] };
    const c = new MemcachedCache(
      {
        server: small.address,
        timeoutMs: 500,
        maxItemBytes: 1024 * 1024,
        breakerFailures: 3,
        breakerCooldownMs: 10_000,
        ...over,
      },
      {
        error: (_op, e) => events.errors.push(e),
        state: (open) => events.states.push(open),
        skipped: (n) => events.skipped.push(n),
      },
    );
    try {
      await f(c, events);
    } finally {
      small.resume();
      await c.close();
    }
  };

  it("round-trips values, deletes them, and misses what it does not have", () =>
    withClient(async (c, events) => {
      const value = new Uint8Array(10_000).map((_, i) => i % 251);
      expect(await c.set("k", value, 60)).toBe(true);
      expect(await c.get("k")).toEqual(value);
      await c.delete("k");
      expect(await c.get("k")).toBeUndefined();
      expect(events.errors).toEqual([]);
    }));

  it("keeps a value whose TTL is over 30 days (memcached reads such numbers as absolute times)", () =>
    withClient(async (c) => {
      expect(await c.set("long-lived", new Uint8Array([1, 2, 3]), 60 * 86_400)).toBe(true);
      expect(await c.get("long-lived")).toEqual(new Uint8Array([1, 2, 3]));
    }));

  it("does not open the breaker, nor fail later operations, after one operation ran past its deadline", () =>
    withClient(
      async (c, events) => {
        expect(await c.set("k", new Uint8Array([42]), 60)).toBe(true);
        await small.pause(); // one stall, until a single get has missed its deadline
        try {
          expect(await c.get("k")).toBeUndefined();
        } finally {
          small.resume();
        }
        await new Promise((r) => setTimeout(r, 200));
        // memcached answers again: one failure is below breaker_failures (5), so the cache works.
        const after: (Uint8Array | undefined)[] = [];
        for (let i = 0; i < 6; i++) after.push(await c.get("k"));
        expect(after).toEqual(Array(6).fill(new Uint8Array([42])));
        expect(events.states).toEqual([]);
      },
      { timeoutMs: 100, maxItemBytes: 60_000, breakerFailures: 5 },
    ));

  it("counts a value memcached refuses as too large as skipped, not as a backend failure", () =>
    // memcached runs with -I 64k while the client was told 1 MiB (a configuration mismatch).
    withClient(async (c, events) => {
      for (let i = 0; i < 3; i++) expect(await c.set(`big${i}`, new Uint8Array(100_000), 60)).toBe(false);
      expect(await c.set("small", new Uint8Array([7]), 60)).toBe(true); // memcached is healthy
      expect(events.states).toEqual([]);
      expect(events.skipped).toHaveLength(3);
    }));
});
