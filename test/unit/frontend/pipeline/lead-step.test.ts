import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../../../src/config/schema.js";
import { lokiCodec, snapToStepGrid } from "../../../../src/frontend/api/loki.js";
import type { MatrixBody } from "../../../../src/frontend/cache/extents.js";
import { MemoryCache } from "../../../../src/frontend/cache/memory.js";
import { StoredValues } from "../../../../src/frontend/cache/stored.js";
import { leadStep } from "../../../../src/frontend/pipeline/lead-step.js";
import { resultsCache } from "../../../../src/frontend/pipeline/results-cache.js";
import { split } from "../../../../src/frontend/pipeline/split.js";
import { compose, emptyCacheStats, type Handler, type QueryContext } from "../../../../src/frontend/types.js";

// How Loki metric queries are cut, cached and merged for a querier that behaves as Loki 3.4.6 does:
// it evaluates the step grid from the epoch, and can lose the first step of the range it is asked.

const S = 1_000_000_000n;
const HOUR = 3600n * S;
const DAY = 24n * HOUR;
const T0 = 1_795_046_400n * S; // 2026-11-19T00:00:00Z
const NOW_MS = Number((T0 + 10n * DAY) / 1_000_000n);
const QUERY = 'sum(count_over_time({app="api"}[1h]))';

describe("snapToStepGrid", () => {
  it("rounds start down and end up to the step grid from the epoch; grid points stay", () => {
    expect(snapToStepGrid(T0 + 60n * S, T0 + 7n * DAY - 137n * S, 300n * S)).toEqual({
      startNs: T0,
      endNs: T0 + 7n * DAY,
    });
    expect(snapToStepGrid(T0, T0 + HOUR, HOUR)).toEqual({ startNs: T0, endNs: T0 + HOUR });
    expect(snapToStepGrid(-1n, 1n, 10n)).toEqual({ startNs: -10n, endNs: 10n });
  });

  it("is applied to Loki metric queries, not to log queries", () => {
    const params = { start: String(T0 + 1234n * S + 5n), end: String(T0 + 5n * HOUR + 1n), step: "3600" };
    expect(lokiCodec.parse("query_range", { ...params, query: QUERY }, T0, DEFAULT_LIMITS)).toMatchObject({
      kind: "metric",
      startNs: T0,
      endNs: T0 + 6n * HOUR,
    });
    expect(lokiCodec.parse("query_range", { ...params, query: '{app="api"}' }, T0, DEFAULT_LIMITS)).toMatchObject({
      kind: "log",
      startNs: T0 + 1234n * S + 5n,
      endNs: T0 + 5n * HOUR + 1n,
    });
  });
});

/** Loki 3.4.6 at its worst: every grid point of [start, end] has the value t / step, except start, lost. */
function lokiLike(calls: [bigint, bigint][]): Handler {
  return async (req) => {
    calls.push([req.startNs, req.endNs]);
    const step = BigInt(req.stepMs!) * 1_000_000n;
    const values: [number, string][] = [];
    for (let t = req.startNs + step; t <= req.endNs; t += step) values.push([Number(t / S), String(t / step)]);
    const json: MatrixBody = {
      status: "success",
      data: { resultType: "matrix", result: values.length ? [{ metric: {}, values }] : [], stats: { summary: {} } },
    };
    return { status: 200, contentType: "application/json; charset=UTF-8", json };
  };
}

const context = (): QueryContext => ({
  identity: { subject: "s", tenants: ["team-a"], actorPath: "team-a|alice", scopes: [] },
  forwardHeaders: new Headers(),
  signal: new AbortController().signal,
  deadline: Date.now() + 60_000,
  limits: DEFAULT_LIMITS,
  stats: { splits: 0, queueWaitMs: 0, querierMs: 0, retries: 0, cache: emptyCacheStats() },
});

describe("Loki metric pieces: split, results cache and the lead step", () => {
  const setup = () => {
    const calls: [bigint, bigint][] = [];
    const store = new StoredValues(new MemoryCache(64 << 20), 64 << 20);
    const pipeline = compose(
      split((req, parts) => lokiCodec.merge(req, parts)),
      resultsCache({ store, ttlSeconds: 3600, minExtentMs: 0, now: () => NOW_MS }),
      leadStep,
    )(lokiLike(calls));
    const ask = async (start: bigint, end: bigint) => {
      const req = lokiCodec.parse(
        "query_range",
        { query: QUERY, start: String(start), end: String(end), step: "3600" },
        T0,
        DEFAULT_LIMITS,
      );
      const res = await pipeline(req, context());
      const series = (res.json as MatrixBody).data.result;
      return { res, times: series.flatMap((s) => s.values!.map(([t]) => BigInt(t) * S)) };
    };
    return { ask, calls };
  };
  const grid = (from: bigint, to: bigint) => {
    const out: bigint[] = [];
    for (let t = from; t <= to; t += HOUR) out.push(t);
    return out;
  };

  it("answers every grid point, cold, warm and with the range moved forward, at day boundaries too", async () => {
    const { ask, calls } = setup();
    // 6.5 days from 22:20: the first day's piece is two steps long.
    const start = T0 + 22n * HOUR + 1234n * S;
    const end = start + 6n * DAY + 12n * HOUR;
    const want = grid(T0 + 22n * HOUR, T0 + 7n * DAY + 11n * HOUR);
    const cold = await ask(start, end);
    expect(cold.times).toEqual(want);
    // Each piece was asked from one step before its first grid point.
    expect(calls[0]).toEqual([T0 + 21n * HOUR, T0 + 23n * HOUR]);
    expect(calls.every(([s]) => (s / HOUR) * HOUR === s)).toBe(true);
    calls.length = 0;
    const warm = await ask(start, end);
    expect([warm.times, calls.length]).toEqual([want, 0]);
    expect(warm.res.contentType).toBe("application/json; charset=UTF-8");
    const moved = await ask(start + 5n * HOUR + 437n * S, end + 5n * HOUR + 437n * S);
    expect(moved.times).toEqual(grid(T0 + 27n * HOUR, T0 + 7n * DAY + 16n * HOUR));
    // Only the new tail was asked, one step early.
    expect(calls).toEqual([[T0 + 7n * DAY + 11n * HOUR, T0 + 7n * DAY + 16n * HOUR]]);
  });

  it("keeps Loki's execution stats on a fetched piece", async () => {
    const calls: [bigint, bigint][] = [];
    const res = await leadStep(lokiLike(calls))(
      lokiCodec.parse("query_range", { query: QUERY, start: String(T0), end: String(T0 + 2n * HOUR) }, T0, {
        ...DEFAULT_LIMITS,
      }),
      context(),
    );
    expect((res.json as MatrixBody).data.stats).toEqual({ summary: {} });
  });
});
