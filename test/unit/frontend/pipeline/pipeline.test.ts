// Shards as ordinary pieces of the query pipeline: behind the shard middleware, each shard query is split,
// cached under its own key and dispatched like any piece. The querier here evaluates PromQL with the tiny
// evaluator and answers `__query_shard__` as Mimir does (every series in exactly one shard).
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../../src/config/load.js";
import { DEFAULT_LIMITS, type FrontendConfig } from "../../../../src/config/schema.js";
import { MemoryCache } from "../../../../src/frontend/cache/memory.js";
import { StoredValues } from "../../../../src/frontend/cache/stored.js";
import { queryPipeline } from "../../../../src/frontend/pipeline/pipeline.js";
import {
  emptyCacheStats,
  type Handler,
  type QueryContext,
  type QueryRequest,
  type QueryResponse,
} from "../../../../src/frontend/types.js";
import { type Data, evaluate } from "../../../support/tiny-promql.js";

const S = 1_000_000_000n;
const T0 = 1_795_046_400n * S; // 2026-11-19T00:00:00Z
const NOW_MS = Number(T0 / 1_000_000n) + 5 * 86_400_000; // everything queried is old enough to cache

const data: Data = {
  labels: Array.from({ length: 24 }, (_, i) => ({ __name__: "x", pod: `p${i % 5}`, zone: `z${i % 3}`, i: String(i) })),
  valueAt: (i, t) => ((i * 37 + Math.floor(t / 3600)) % 101) / 8 + i / 1024,
};
const shardOf = (i: number, of: number) => (i * 2654435761) % of;

/** A querier that evaluates what it is asked; records each call, and may answer otherwise. */
function querier(respond?: (req: QueryRequest, signal: AbortSignal) => Promise<QueryResponse> | undefined) {
  const calls: QueryRequest[] = [];
  let inflight = 0;
  const seen = { maxInflight: 0 };
  const dispatch: Handler = async (req, ctx) => {
    calls.push(req);
    seen.maxInflight = Math.max(seen.maxInflight, ++inflight);
    try {
      await new Promise((r) => setImmediate(r));
      const own = respond?.(req, ctx.signal);
      if (own) return await own;
      const step = BigInt(req.stepMs!) * 1_000_000n;
      const times: number[] = [];
      for (let t = req.startNs; t <= req.endNs; t += step) times.push(Number(t / S));
      return { status: 200, contentType: "application/json", json: evaluate(req.query!, data, times, shardOf) };
    } finally {
      inflight--;
    }
  };
  return { dispatch, calls, seen };
}

const frontend = (kind: string): FrontendConfig =>
  parseConfig({ frontend: { queriers: [{ url: "http://q" }], querier_kind: kind } }).frontend!;

const context = (limits = {}): QueryContext => ({
  identity: { subject: "s", tenants: ["team-a"], actorPath: "team-a|alice", scopes: [] },
  forwardHeaders: new Headers(),
  signal: new AbortController().signal,
  deadline: Date.now() + 60_000,
  limits: { ...DEFAULT_LIMITS, ...limits },
  stats: { splits: 0, queueWaitMs: 0, querierMs: 0, retries: 0, cache: emptyCacheStats() },
});

// Two and a half days at a 1 h step: three splits of a day each.
const request = (query: string): QueryRequest => ({
  api: "prometheus",
  kind: "metric",
  path: "/api/v1/query_range",
  params: {},
  query,
  startNs: T0,
  endNs: T0 + 60n * 3600n * S,
  stepMs: 3_600_000,
});

const run = (config: FrontendConfig, store: StoredValues, dispatch: Handler, query: string, limits = {}) => {
  const ctx = context(limits);
  return queryPipeline(config, store, dispatch, { now: () => NOW_MS })(request(query), ctx).then((res) => ({
    res,
    ctx,
  }));
};
const newStore = () => new StoredValues(new MemoryCache(64 << 20), 64 << 20);

describe("shards in the pipeline", () => {
  it.each(["sum by (pod) (x)", "avg without (i) (x)", "topk by (zone) (2, x)", "count(x * 2)", "max(x)"])(
    "%s: the sharded answer equals the unsharded one, split and cached",
    async (query) => {
      const q = querier();
      const sharded = await run(frontend("mimir"), newStore(), q.dispatch, query);
      const whole = await run(frontend("prometheus"), newStore(), querier().dispatch, query);
      expect(sharded.res.status).toBe(200);
      expect(sharded.res.json).toEqual(whole.res.json);
      const legs = query.startsWith("avg") ? 2 : 1;
      expect(sharded.ctx.stats.shards).toBe(16 * legs);
      expect(q.calls).toHaveLength(3 * 16 * legs); // every shard split in three
      expect(new Set(q.calls.map((c) => `${c.query}@${c.startNs}`)).size).toBe(q.calls.length);
      expect(whole.ctx.stats.notSharded).toBe("prometheus queriers");
    },
  );

  it("keeps sharded and unsharded cache entries apart: each run of either hits only its own", async () => {
    const store = newStore();
    const query = "sum by (zone) (x)";
    const [a, b, c, d] = [querier(), querier(), querier(), querier()];
    const first = await run(frontend("mimir"), store, a.dispatch, query);
    const whole = await run(frontend("prometheus"), store, b.dispatch, query);
    expect(b.calls.length).toBe(3); // nothing of the sharded entries served the unsharded query
    const again = await run(frontend("mimir"), store, c.dispatch, query);
    const wholeAgain = await run(frontend("prometheus"), store, d.dispatch, query);
    expect([c.calls.length, d.calls.length]).toEqual([0, 0]);
    expect(again.ctx.stats.cache.hit).toBe(3 * 16);
    for (const r of [whole, again, wholeAgain]) expect(r.res.json).toEqual(first.res.json);
  });

  it("fails the query with the first failed shard's answer and cancels the others", async () => {
    const aborted: boolean[] = [];
    const q = querier((req, signal) => {
      if (req.query!.includes('"3_of_16"'))
        return Promise.resolve({ status: 422, contentType: "application/json", raw: new TextEncoder().encode("bad") });
      return new Promise((resolve) => {
        const cancelled = () => {
          aborted.push(true);
          resolve({ status: 499, contentType: "text/plain" });
        };
        if (signal.aborted) cancelled();
        else signal.addEventListener("abort", cancelled);
      });
    });
    const { res } = await run(frontend("mimir"), newStore(), q.dispatch, "sum(x)", { max_query_parallelism: 64 });
    expect(res.status).toBe(422);
    expect(aborted.length).toBeGreaterThan(0);
  });

  it("asks the query whole when shards answer native histograms, which it does not merge", async () => {
    const histogram = {
      status: "success",
      data: { resultType: "matrix", result: [{ metric: {}, histograms: [[1, {}]] }] },
    };
    const q = querier((req) =>
      req.query!.includes("__query_shard__")
        ? Promise.resolve({ status: 200, contentType: "application/json", json: histogram })
        : undefined,
    );
    const { res, ctx } = await run(frontend("mimir"), newStore(), q.dispatch, "sum(x)");
    expect(ctx.stats.notSharded).toBe("native histograms");
    expect(res.json).toEqual((await run(frontend("prometheus"), newStore(), querier().dispatch, "sum(x)")).res.json);
    expect(q.calls.filter((c) => !c.query!.includes("__query_shard__"))).toHaveLength(3);
  });

  it("keeps all shards' pieces within the query's max_query_parallelism", async () => {
    const q = querier();
    await run(frontend("mimir"), newStore(), q.dispatch, "sum(x)", { max_query_parallelism: 32 });
    expect(q.calls).toHaveLength(48);
    expect(q.seen.maxInflight).toBeLessThanOrEqual(32);
  });

  it("shards fewer when splits × shards would pass max_sharded_queries, and not at all past it", async () => {
    const q = querier();
    const few = await run(frontend("mimir"), newStore(), q.dispatch, "sum(x)", {
      query_sharding_max_sharded_queries: 12,
    });
    expect(few.ctx.stats.shards).toBe(4);
    const none = await run(frontend("mimir"), newStore(), q.dispatch, "sum(x)", {
      query_sharding_max_sharded_queries: 5,
    });
    expect(none.ctx.stats.notSharded).toBe("splits × shards over max_sharded_queries");
    expect(none.res.json).toEqual(few.res.json);
  });
});
