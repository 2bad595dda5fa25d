import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, type Limits } from "../../../../src/config/schema.js";
import type { MatrixBody } from "../../../../src/frontend/cache/extents.js";
import { MemoryCache } from "../../../../src/frontend/cache/memory.js";
import { StoredValues } from "../../../../src/frontend/cache/stored.js";
import { pieceCache } from "../../../../src/frontend/pipeline/piece-cache.js";
import { resultsCache } from "../../../../src/frontend/pipeline/results-cache.js";
import {
  emptyCacheStats,
  type Handler,
  type QueryContext,
  type QueryRequest,
  type QueryResponse,
} from "../../../../src/frontend/types.js";

// The results cache and the piece cache as middlewares over a fake querier whose answers depend on
// the tenant, the query and the time: a wrong entry served anywhere shows up as wrong numbers.

const S = 1_000_000_000n;
const MS = 1_000_000n;
const MIN = 60n * S;
const T0 = 1_795_046_400n * S; // 2026-11-19T00:00:00Z, a day boundary
const NOW_MS = Number((T0 + 86_400n * S) / MS); // a day later: the whole first day is older than any freshness line

interface Recorded {
  tenants: string;
  query?: string;
  kind: string;
  startNs: bigint;
  endNs: bigint;
  cacheControl: string | null;
}

/** Sample value of a series: a function of tenant, query and time only. */
const valueAt = (tenants: string, query: string, tNs: bigint) =>
  String((Number((tNs / S) % 100_000n) * 7 + tenants.length * 13 + query.length) % 9973);

function answerFor(req: QueryRequest, tenants: string): MatrixBody {
  const step = BigInt(req.stepMs!) * MS;
  const result = ["x", "y"].map((s) => {
    const values: [number, string][] = [];
    for (let t = req.startNs; t <= req.endNs; t += step)
      values.push([Number(t / MS) / 1000, valueAt(tenants + s, req.query ?? "", t)]);
    return { metric: { tenant: tenants, series: s }, values };
  });
  return { status: "success", data: { resultType: "matrix", result } };
}

/** The fake querier: answers matrices, or what `respond` says; records every call. */
function querier(respond?: (req: QueryRequest) => QueryResponse | undefined) {
  const calls: Recorded[] = [];
  const next: Handler = async (req, ctx) => {
    const tenants = ctx.identity.tenants.join("|");
    calls.push({
      tenants,
      query: req.query,
      kind: req.kind,
      startNs: req.startNs,
      endNs: req.endNs,
      cacheControl: ctx.forwardHeaders.get("cache-control"),
    });
    return respond?.(req) ?? { status: 200, contentType: "application/json", json: answerFor(req, tenants) };
  };
  return { next, calls };
}

const context = (
  tenants = ["team-a"],
  limits: Partial<Limits> = {},
  headers: Record<string, string> = {},
): QueryContext => ({
  identity: { subject: "s", tenants, actorPath: `${tenants[0]}|alice`, scopes: [] },
  forwardHeaders: new Headers(headers),
  signal: new AbortController().signal,
  deadline: Date.now() + 60_000,
  limits: { ...DEFAULT_LIMITS, max_cache_freshness: 600_000, ...limits },
  stats: { splits: 0, queueWaitMs: 0, querierMs: 0, retries: 0, cache: emptyCacheStats() },
});

const metric = (startNs: bigint, endNs: bigint, query = "sum(rate(x[5m]))", stepMs = 60_000): QueryRequest => ({
  api: "prometheus",
  kind: "metric",
  path: "/api/v1/query_range",
  params: {},
  query,
  startNs,
  endNs,
  stepMs,
});

function setup(
  opts: {
    now?: number;
    hash?: (full: string) => string;
    minExtentMs?: number;
    respond?: (req: QueryRequest) => QueryResponse | undefined;
  } = {},
) {
  let now = opts.now ?? NOW_MS;
  const q = querier(opts.respond);
  const store = new StoredValues(new MemoryCache(64 << 20), 64 << 20);
  const handler = resultsCache({
    store,
    ttlSeconds: 3600,
    minExtentMs: opts.minExtentMs ?? 0,
    now: () => now,
    hash: opts.hash,
  })(q.next);
  const run = async (req: QueryRequest, ctx = context()) => {
    const before = q.calls.length;
    const res = await handler(req, ctx);
    return { res, json: res.json as MatrixBody, fetched: q.calls.slice(before), stats: ctx.stats.cache };
  };
  return { run, calls: q.calls, store, setNow: (ms: number) => (now = ms) };
}

/** What the querier answers for the whole request, without a cache. */
const direct = (req: QueryRequest, tenants = ["team-a"]) => answerFor(req, tenants.join("|"));
const ranges = (fetched: Recorded[]) =>
  fetched.map((f) => [Number((f.startNs - T0) / MIN), Number((f.endNs - T0) / MIN)]);

describe("results cache", () => {
  it("misses, stores, then answers the same request from the cache alone, identically", async () => {
    const { run } = setup();
    const req = metric(T0, T0 + 600n * MIN);
    const first = await run(req);
    expect(first.fetched).toHaveLength(1);
    expect(first.stats).toMatchObject({ miss: 1, hit: 0, entriesRequested: 1, entriesFound: 0, entriesStored: 1 });
    expect(first.stats.bytesSent).toBeGreaterThan(0);
    expect(first.json).toEqual(direct(req));

    const second = await run(req);
    expect(second.fetched).toEqual([]);
    expect(second.stats).toMatchObject({
      hit: 1,
      miss: 0,
      entriesFound: 1,
      entriesStored: 0,
      queryLengthServedNs: 600n * MIN,
    });
    expect(second.json).toEqual(direct(req));
  });

  it("fetches only the head and tail a wider request adds, and answers as the querier would", async () => {
    const { run } = setup();
    await run(metric(T0 + 100n * MIN, T0 + 200n * MIN));
    const wider = metric(T0 + 50n * MIN, T0 + 300n * MIN);
    const r = await run(wider);
    expect(ranges(r.fetched)).toEqual([
      [50, 99],
      [201, 300],
    ]);
    expect(r.stats).toMatchObject({ partial: 1, queryLengthServedNs: 100n * MIN });
    expect(r.json).toEqual(direct(wider));
    // And now the whole of it is cached.
    expect((await run(wider)).fetched).toEqual([]);
    expect((await run(metric(T0 + 60n * MIN, T0 + 290n * MIN))).json).toEqual(
      direct(metric(T0 + 60n * MIN, T0 + 290n * MIN)),
    );
  });

  it("fills a hole between two cached extents with one sub-query", async () => {
    const { run } = setup();
    await run(metric(T0, T0 + 10n * MIN));
    await run(metric(T0 + 20n * MIN, T0 + 30n * MIN));
    const all = metric(T0, T0 + 30n * MIN);
    const r = await run(all);
    expect(ranges(r.fetched)).toEqual([[11, 19]]);
    expect(r.json).toEqual(direct(all));
  });

  it("serves a narrower request from a wider extent, cut to its range", async () => {
    const { run } = setup();
    await run(metric(T0, T0 + 600n * MIN));
    const narrow = metric(T0 + 100n * MIN, T0 + 101n * MIN);
    const r = await run(narrow);
    expect(r.fetched).toEqual([]);
    expect(r.json).toEqual(direct(narrow));
  });

  it("stores nothing newer than now − max_cache_freshness, cut on the step grid; refetches that tail", async () => {
    const end = T0 + 600n * MIN;
    const { run, setNow } = setup({ now: Number(end / MS) + 30_000 }); // now is end + 30 s; freshness 10 min
    const req = metric(T0, end);
    await run(req);
    const again = await run(req);
    // The freshness line is end − 9½ min; the last grid point before it is end − 10 min.
    expect(ranges(again.fetched)).toEqual([[591, 600]]);
    expect(again.stats.partial).toBe(1);
    expect(again.json).toEqual(direct(req));
    expect(ranges((await run(req)).fetched)).toEqual([[591, 600]]); // never stored while fresh

    setNow(Number(end / MS) + 3_600_000); // an hour later all of it is old
    expect(ranges((await run(req)).fetched)).toEqual([[591, 600]]);
    expect((await run(req)).fetched).toEqual([]);
  });

  it("neither reads nor writes a request that lies wholly within the freshness window", async () => {
    const { run } = setup({ now: Number(T0 / MS) + 300_000 });
    const req = metric(T0, T0 + 5n * MIN);
    const r = await run(req);
    expect(r.stats).toMatchObject({ miss: 1, entriesRequested: 0, entriesStored: 0 });
    expect((await run(req)).fetched).toHaveLength(1);
  });

  it("keeps requests off the step grid apart: a shifted start never gets samples of another grid", async () => {
    const { run } = setup();
    await run(metric(T0, T0 + 100n * MIN));
    const shifted = metric(T0 + 7n * S, T0 + 100n * MIN + 7n * S);
    const r = await run(shifted);
    expect(r.stats.miss).toBe(1);
    expect(r.json).toEqual(direct(shifted));
    // The same shift, moved by whole steps, is a partial hit on its own grid.
    const later = metric(T0 + 7n * S + 10n * MIN, T0 + 7n * S + 110n * MIN);
    const p = await run(later);
    expect(p.stats.partial).toBe(1);
    expect(p.fetched.map((f) => [f.startNs - T0, f.endNs - T0])).toEqual([[7n * S + 101n * MIN, 7n * S + 110n * MIN]]);
    expect(p.json).toEqual(direct(later));
  });

  it("keeps tenants apart, whatever the order a multi-tenant identity lists them in", async () => {
    const { run } = setup();
    const req = metric(T0, T0 + 60n * MIN);
    await run(req, context(["a"]));
    const b = await run(req, context(["b"]));
    expect(b.stats.miss).toBe(1);
    expect(b.fetched.map((f) => f.tenants)).toEqual(["b"]);
    expect(b.json).toEqual(direct(req, ["b"]));
    await run(req, context(["a", "b"]));
    const swapped = await run(req, context(["b", "a"]));
    expect(swapped.stats.hit).toBe(1);
  });

  it("never hands out another query's entry when two full keys hash alike", async () => {
    const { run } = setup({ hash: () => "same" });
    const q1 = metric(T0, T0 + 60n * MIN, "sum(rate(one[5m]))");
    const q2 = metric(T0, T0 + 60n * MIN, "sum(rate(two[5m]))");
    await run(q1);
    const second = await run(q2);
    expect(second.stats).toMatchObject({ miss: 1, entriesRequested: 1, entriesFound: 0 });
    expect(second.fetched).toHaveLength(1);
    expect(second.json).toEqual(direct(q2));
    // The shared key now holds q2's entry: q2 hits, q1 misses and gets its own answer.
    expect((await run(q2)).stats.hit).toBe(1);
    const back = await run(q1);
    expect(back.stats.miss).toBe(1);
    expect(back.json).toEqual(direct(q1));
  });

  it("bypasses the cache for requests with Cache-Control: no-cache or no-store", async () => {
    const { run } = setup();
    const req = metric(T0, T0 + 60n * MIN);
    for (const cc of ["no-cache", "no-store", "max-age=0, no-cache"]) {
      const r = await run(req, context(["team-a"], {}, { "cache-control": cc }));
      expect(r.stats, cc).toMatchObject({ hit: 0, miss: 0, entriesRequested: 0, entriesStored: 0 });
    }
    expect((await run(req)).stats.miss).toBe(1); // nothing was stored by those
    // nor read
    expect((await run(req, context(["team-a"], {}, { "cache-control": "no-cache" }))).fetched).toHaveLength(1);
  });

  it("does not store an answer the querier marked no-store", async () => {
    const { run } = setup({
      respond: (req) => ({
        status: 200,
        contentType: "application/json",
        json: direct(req),
        cacheControl: "private, no-store",
      }),
    });
    const req = metric(T0, T0 + 60n * MIN);
    expect((await run(req)).stats.entriesStored).toBe(0);
    expect((await run(req)).fetched).toHaveLength(1);
  });

  it("never caches errors: 4xx answers, error bodies, and non-matrix answers", async () => {
    let answer: QueryResponse | undefined;
    const { run } = setup({ respond: () => answer });
    const req = metric(T0, T0 + 60n * MIN);
    const failures: QueryResponse[] = [
      {
        status: 422,
        contentType: "application/json",
        raw: new TextEncoder().encode('{"status":"error","errorType":"execution","error":"boom"}'),
      },
      {
        status: 200,
        contentType: "application/json",
        json: { status: "error", errorType: "execution", error: "boom" },
      },
      {
        status: 200,
        contentType: "application/json",
        json: { status: "success", data: { resultType: "vector", result: [] } },
      },
    ];
    for (const f of failures) {
      answer = f;
      const r = await run(req);
      expect(r.res).toBe(f);
      expect(r.stats.entriesStored).toBe(0);
    }
    answer = undefined;
    const ok = await run(req);
    expect(ok.stats.miss).toBe(1);
    expect(ok.json).toEqual(direct(req));
  });

  it("returns a failed gap's error on a partial hit, and keeps the extents it had", async () => {
    let fail = false;
    const err: QueryResponse = {
      status: 400,
      contentType: "application/json",
      raw: new TextEncoder().encode('{"status":"error"}'),
    };
    const { run } = setup({ respond: () => (fail ? err : undefined) });
    await run(metric(T0, T0 + 60n * MIN));
    fail = true;
    expect((await run(metric(T0, T0 + 120n * MIN))).res).toBe(err);
    fail = false;
    const r = await run(metric(T0, T0 + 120n * MIN));
    expect(ranges(r.fetched)).toEqual([[61, 120]]);
  });

  it("does not cache queries that read recent data: @ past the freshness line, negative offsets", async () => {
    const { run } = setup();
    const nowS = NOW_MS / 1000;
    const req = (query: string) => metric(T0, T0 + 60n * MIN, query);
    for (const query of [
      `rate(x[5m] @ ${nowS - 60})`,
      `rate(x[5m] @ ${nowS + 3600}.5)`,
      "rate(x[5m] offset -1h)",
      "rate(x[5m]   offset  -5m)",
    ]) {
      await run(req(query));
      const again = await run(req(query));
      expect(again.fetched, query).toHaveLength(1);
      expect(again.stats, query).toMatchObject({ miss: 1, entriesStored: 0 });
    }
    // Old @ times and positive offsets are cached.
    for (const query of [`rate(x[5m] @ ${nowS - 7200})`, "rate(x[5m] offset 1h)"]) {
      await run(req(query));
      expect((await run(req(query))).stats.hit, query).toBe(1);
    }
  });

  it("does not cache an @ time written as a float literal with an exponent when it is recent", async () => {
    // PromQL takes `@ 1.7955e9` as well as `@ 1795500000`: both read data from after the freshness line.
    const { run } = setup();
    const query = `rate(x[5m] @ ${(NOW_MS / 1000 + 3600) / 1e5}e5)`;
    await run(metric(T0, T0 + 60n * MIN, query));
    const again = await run(metric(T0, T0 + 60n * MIN, query));
    expect(again.stats.entriesStored + again.stats.hit).toBe(0);
    expect(again.fetched).toHaveLength(1);
  });

  it("does not store extents shorter than min_extent", async () => {
    const { run } = setup({ minExtentMs: 10 * 60_000 });
    const short = metric(T0, T0 + 5n * MIN);
    expect((await run(short)).stats.entriesStored).toBe(0);
    expect((await run(metric(T0, T0 + 30n * MIN))).stats.entriesStored).toBe(1);
    expect((await run(short)).stats.hit).toBe(1);
  });

  it("leaves other kinds of request alone", async () => {
    const { run } = setup();
    const instant: QueryRequest = { ...metric(T0, T0), kind: "instant" };
    const r = await run(instant);
    expect(r.stats).toEqual(emptyCacheStats());
  });
});

describe("piece cache", () => {
  const metadata = (startNs: bigint, endNs: bigint, params = {}): QueryRequest => ({
    api: "loki",
    kind: "metadata",
    path: "/loki/api/v1/labels",
    params,
    startNs,
    endNs,
  });
  const logs = (startNs: bigint, endNs: bigint, limit = 100): QueryRequest => ({
    api: "loki",
    kind: "log",
    path: "/loki/api/v1/query_range",
    params: {},
    query: '{app="x"}',
    startNs,
    endNs,
    limit,
    direction: "backward",
  });
  const streams = (n: number) => ({
    status: "success",
    data: {
      resultType: "streams",
      result: Array.from({ length: n }, (_, i) => ({ stream: { i: String(i) }, values: [["1", "line"]] })),
    },
  });

  function pieces(
    answer: (req: QueryRequest, tenants: string) => unknown,
    nowMs = Number((T0 + 3n * 86_400n * S) / MS),
  ) {
    const calls: Recorded[] = [];
    const store = new StoredValues(new MemoryCache(1 << 20), 1 << 20);
    const handler = pieceCache({
      store,
      metadata: { ttlSeconds: 60 },
      emptyLogs: { ttlSeconds: 60 },
      now: () => nowMs,
    })(async (req, ctx) => {
      const tenants = ctx.identity.tenants.join("|");
      calls.push({
        tenants,
        query: req.query,
        kind: req.kind,
        startNs: req.startNs,
        endNs: req.endNs,
        cacheControl: null,
      });
      return { status: 200, contentType: "application/json", json: answer(req, tenants) };
    });
    const run = async (req: QueryRequest, ctx = context()) => {
      const before = calls.length;
      const res = await handler(req, ctx);
      return { res, fetched: calls.length - before, stats: ctx.stats.cache };
    };
    return run;
  }

  it("caches metadata pieces older than max_metadata_cache_freshness, per tenant", async () => {
    const run = pieces((_, tenants) => ({ status: "success", data: [tenants, "job"] }));
    const old = metadata(T0, T0 + 3_600n * S);
    expect((await run(old)).fetched).toBe(1);
    const hit = await run(old);
    expect(hit.fetched).toBe(0);
    expect(hit.res.json).toEqual({ status: "success", data: ["team-a", "job"] });
    expect(hit.stats).toMatchObject({ hit: 1, entriesFound: 1, queryLengthServedNs: 3_600n * S });
    const other = await run(old, context(["team-b"]));
    expect(other.fetched).toBe(1);
    expect(other.res.json).toEqual({ status: "success", data: ["team-b", "job"] });
    // Parameters are part of the key.
    expect((await run(metadata(T0, T0 + 3_600n * S, { query: '{app="x"}' }))).fetched).toBe(1);
    // Newer than a day before now: never cached.
    const recent = metadata(T0 + 2n * 86_400n * S + 3_600n * S, T0 + 2n * 86_400n * S + 7_200n * S);
    await run(recent);
    expect((await run(recent)).fetched).toBe(1);
  });

  it("caches old log pieces whose answer was empty, and only those", async () => {
    let lines = 0;
    const run = pieces(() => streams(lines));
    const piece = logs(T0, T0 + 3_600n * S);
    await run(piece);
    expect((await run(piece)).fetched).toBe(0);
    expect((await run(logs(T0, T0 + 3_600n * S, 50))).fetched).toBe(1); // limit is part of the key

    lines = 2;
    const full = logs(T0 + 3_600n * S, T0 + 7_200n * S);
    await run(full);
    expect((await run(full)).fetched).toBe(1);

    lines = 0;
    const fresh = logs(T0 + 3n * 86_400n * S - 60n * S, T0 + 3n * 86_400n * S);
    await run(fresh);
    expect((await run(fresh)).fetched).toBe(1);
  });

  it("bypasses the piece cache for Cache-Control: no-cache", async () => {
    const run = pieces(() => streams(0));
    const piece = logs(T0, T0 + 3_600n * S);
    await run(piece);
    expect((await run(piece, context(["team-a"], {}, { "cache-control": "no-cache" }))).fetched).toBe(1);
  });
});
