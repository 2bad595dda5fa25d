import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, type Limits } from "../../../../src/config/schema.js";
import { mergeResponses } from "../../../../src/frontend/api/merge-responses.js";
import { align } from "../../../../src/frontend/pipeline/align.js";
import { split, type Merge } from "../../../../src/frontend/pipeline/split.js";
import {
  emptyCacheStats,
  type Handler,
  type QueryContext,
  type QueryRequest,
  type QueryResponse,
} from "../../../../src/frontend/types.js";
import { rng } from "../../../support/rng.js";

const S = 1_000_000_000n;
const MS = 1_000_000n;
const HOUR = 3600n * S;
const DAY = 24n * HOUR;
// 2026-11-19T00:00:00Z
const T0 = 1_795_046_400n * S;

function context(over: Partial<Limits> = {}, signal: AbortSignal = new AbortController().signal): QueryContext {
  return {
    identity: { subject: "s", tenants: ["team-a"], actorPath: "team-a|alice", scopes: [] },
    forwardHeaders: new Headers(),
    signal,
    deadline: Date.now() + 60_000,
    limits: { ...DEFAULT_LIMITS, ...over },
    stats: { splits: 0, queueWaitMs: 0, querierMs: 0, retries: 0, cache: emptyCacheStats() },
  };
}

const metricReq = (startNs: bigint, endNs: bigint, stepMs: number): QueryRequest => ({
  api: "loki",
  kind: "metric",
  path: "/loki/api/v1/query_range",
  params: {},
  query: 'sum(count_over_time({app="api"}[1m]))',
  startNs,
  endNs,
  stepMs,
});
const logReq = (startNs: bigint, endNs: bigint, limit: number, direction: "forward" | "backward"): QueryRequest => ({
  api: "loki",
  kind: "log",
  path: "/loki/api/v1/query_range",
  params: {},
  query: '{app="api"}',
  startNs,
  endNs,
  limit,
  direction,
});

const ok = (json: unknown): QueryResponse => ({ status: 200, contentType: "application/json", json });

/** A matrix answer with one sample per step timestamp of [start, end]. */
function matrixFor(req: QueryRequest): QueryResponse {
  const step = BigInt(req.stepMs!) * MS;
  const values: [number, string][] = [];
  for (let t = req.startNs; t <= req.endNs; t += step) values.push([Number(t / MS) / 1000, "1"]);
  return ok({ status: "success", data: { resultType: "matrix", result: [{ metric: { app: "api" }, values }] } });
}

/** A streams answer with `perPiece` entries spread over [start, end), in the request's direction. */
function streamsFor(req: QueryRequest, perPiece: number): QueryResponse {
  const span = req.endNs - req.startNs;
  const ts = Array.from({ length: perPiece }, (_, i) => req.startNs + (span * BigInt(i)) / BigInt(perPiece));
  if (req.direction === "backward") ts.reverse();
  return ok({
    status: "success",
    data: {
      resultType: "streams",
      result: [{ stream: { app: "api" }, values: ts.map((t) => [t.toString(), `line at ${t}`]) }],
    },
  });
}

interface Call {
  req: QueryRequest;
  signal: AbortSignal;
  resolve: (r: QueryResponse) => void;
  reject: (e: unknown) => void;
}

/** A `next` whose answers the test gives by hand. */
function manualNext(): { next: Handler; calls: Call[]; inFlight: () => number } {
  const calls: Call[] = [];
  let inFlight = 0;
  const next: Handler = (req, ctx) =>
    new Promise<QueryResponse>((resolve, reject) => {
      inFlight++;
      calls.push({
        req,
        signal: ctx.signal,
        resolve: (r) => {
          inFlight--;
          resolve(r);
        },
        reject: (e) => {
          inFlight--;
          reject(e);
        },
      });
    });
  return { next, calls, inFlight: () => inFlight };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const flush = async () => {
  for (let i = 0; i < 5; i++) await tick();
};

describe("split", () => {
  it("cuts the 3-day metric query at day boundaries and merges the pieces", async () => {
    const calls: QueryRequest[] = [];
    const next: Handler = async (req) => {
      calls.push(req);
      return matrixFor(req);
    };
    const ctx = context();
    const res = await split(mergeResponses)(next)(metricReq(T0, T0 + 3n * DAY, 3_600_000), ctx);
    expect(calls.map((c) => [c.startNs, c.endNs])).toEqual([
      [T0, T0 + DAY - HOUR],
      [T0 + DAY, T0 + 2n * DAY - HOUR],
      [T0 + 2n * DAY, T0 + 3n * DAY],
    ]);
    expect(calls.every((c) => c.query === 'sum(count_over_time({app="api"}[1m]))' && c.stepMs === 3_600_000)).toBe(
      true,
    );
    expect(ctx.stats.splits).toBe(3);
    const values = (res.json as { data: { result: { values: [number, string][] }[] } }).data.result[0]!.values;
    expect(values).toHaveLength(73);
    expect(values.map((v) => v[0])).toEqual(Array.from({ length: 73 }, (_, i) => Number(T0 / S) + i * 3600));
  });

  it("sends a query that fits one interval through unsplit and answers as the piece answered", async () => {
    const answer = ok({ status: "success", data: { resultType: "matrix", result: [] } });
    const seen: QueryRequest[] = [];
    const req = metricReq(T0, T0 + HOUR, 60_000);
    const res = await split(mergeResponses)(async (r) => (seen.push(r), answer))(req, context());
    expect(res).toBe(answer);
    expect(seen).toEqual([req]);
  });

  it("never has more than max_query_parallelism pieces in flight, and runs them all", async () => {
    const r = rng(5);
    for (const parallelism of [1, 3, 14]) {
      let inFlight = 0;
      let most = 0;
      const ranges: bigint[] = [];
      const next: Handler = async (req) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((res) => setTimeout(res, Math.floor(r() * 4)));
        inFlight--;
        ranges.push(req.startNs);
        return matrixFor(req);
      };
      // 30 days at 1 day: 30 pieces
      await split(mergeResponses)(next)(
        metricReq(T0, T0 + 30n * DAY - HOUR, 3_600_000),
        context({ max_query_parallelism: parallelism }),
      );
      expect(most).toBe(Math.min(parallelism, 30));
      expect(ranges).toHaveLength(30);
    }
  });

  it("tells how many pieces wait inside the query under max_query_parallelism, down to 0 at the end", async () => {
    const { next, calls } = manualNext();
    let held = 0;
    const seen: number[] = [];
    const done = split(mergeResponses, (delta) => seen.push((held += delta)))(next)(
      metricReq(T0, T0 + 10n * DAY - HOUR, 3_600_000),
      context({ max_query_parallelism: 3 }),
    );
    await flush();
    expect(held).toBe(7); // 10 pieces, 3 handed on
    calls[0]!.resolve(matrixFor(calls[0]!.req));
    await flush();
    expect(held).toBe(6);
    calls[1]!.resolve({ status: 500, contentType: "text/plain", text: "boom" } as QueryResponse);
    expect((await done).status).toBe(500);
    expect(held).toBe(0); // a failed query holds nothing back
    expect(seen).toEqual([7, 6, 0]);
  });

  it("keeps the in-flight bound when pieces complete out of order", async () => {
    const { next, calls, inFlight } = manualNext();
    const done = split(mergeResponses)(next)(
      metricReq(T0, T0 + 10n * DAY - HOUR, 3_600_000),
      context({ max_query_parallelism: 3 }),
    );
    await flush();
    expect(calls).toHaveLength(3);
    // the later ones finish first: no new piece may start while the first is still running
    calls[2]!.resolve(matrixFor(calls[2]!.req));
    calls[1]!.resolve(matrixFor(calls[1]!.req));
    await flush();
    expect(inFlight()).toBeLessThanOrEqual(3);
    calls[0]!.resolve(matrixFor(calls[0]!.req));
    await flush();
    for (let i = 3; i < 10; i++) {
      expect(inFlight()).toBeLessThanOrEqual(3);
      calls[i]!.resolve(matrixFor(calls[i]!.req));
      await flush();
    }
    const res = await done;
    expect((res.json as { data: { result: { values: unknown[] }[] } }).data.result[0]!.values).toHaveLength(240);
  });

  it("backward log query: walks pieces newest first and stops once `limit` entries arrived", async () => {
    const calls: QueryRequest[] = [];
    const next: Handler = async (req) => {
      calls.push(req);
      return streamsFor(req, 4);
    };
    const start = T0;
    const end = T0 + 24n * HOUR;
    const res = await split(mergeResponses)(next)(
      logReq(start, end, 10, "backward"),
      context({ max_query_parallelism: 1 }),
    );
    expect(calls.map((c) => [c.startNs, c.endNs])).toEqual([
      [end - HOUR, end],
      [end - 2n * HOUR, end - HOUR],
      [end - 3n * HOUR, end - 2n * HOUR],
    ]);
    expect(calls.every((c) => c.limit === 10 && c.direction === "backward")).toBe(true);
    const values = (res.json as { data: { result: { values: [string, string][] }[] } }).data.result[0]!.values;
    expect(values).toHaveLength(10);
    const ts = values.map((v) => BigInt(v[0]));
    expect(ts.every((t, i) => i === 0 || ts[i - 1]! > t)).toBe(true);
    expect(ts[0]).toBe(end - HOUR + (3n * HOUR) / 4n);
  });

  it("forward log query: walks pieces oldest first", async () => {
    const calls: QueryRequest[] = [];
    const next: Handler = async (req) => {
      calls.push(req);
      return streamsFor(req, 4);
    };
    const res = await split(mergeResponses)(next)(
      logReq(T0, T0 + 24n * HOUR, 6, "forward"),
      context({ max_query_parallelism: 1 }),
    );
    expect(calls.map((c) => c.startNs)).toEqual([T0, T0 + HOUR]);
    const values = (res.json as { data: { result: { values: [string, string][] }[] } }).data.result[0]!.values;
    expect(values.map((v) => BigInt(v[0]))[0]).toBe(T0);
    expect(values).toHaveLength(6);
  });

  it("stops launching once the limit is reached, aborts pieces in flight and never calls later ones", async () => {
    const { next, calls } = manualNext();
    const end = T0 + 24n * HOUR;
    const done = split(mergeResponses)(next)(logReq(T0, end, 10, "backward"), context({ max_query_parallelism: 4 }));
    await flush();
    expect(calls.map((c) => c.req.startNs)).toEqual([end - HOUR, end - 2n * HOUR, end - 3n * HOUR, end - 4n * HOUR]);
    // pieces 1 and 2 first: not enough, since the newest piece (0) is still missing
    calls[1]!.resolve(streamsFor(calls[1]!.req, 4));
    calls[2]!.resolve(streamsFor(calls[2]!.req, 4));
    await flush();
    expect(calls.slice(0, 4).map((c) => c.signal.aborted)).toEqual([false, false, false, false]);
    // the first piece still missing holds the walk: no fifth piece yet
    const launched = calls.length;
    expect(launched).toBe(4);
    calls[0]!.resolve(streamsFor(calls[0]!.req, 4));
    const res = await done;
    await flush();
    expect(calls.length).toBe(launched);
    for (const c of calls.slice(3)) expect(c.signal.aborted).toBe(true);
    const values = (res.json as { data: { result: { values: unknown[] }[] } }).data.result[0]!.values;
    expect(values).toHaveLength(10);
  });

  it("a merge sees the parts of a backward log query in chronological order", async () => {
    const seen: bigint[][] = [];
    const merge: Merge = (_req, parts) => {
      seen.push(parts.map((p) => BigInt((p.json as { start: string }).start)));
      return parts[0]!;
    };
    const next: Handler = async (req) => ok({ start: req.startNs.toString(), data: { result: [] } });
    await split(merge)(next)(logReq(T0, T0 + 3n * HOUR, 100, "backward"), context());
    expect(seen).toEqual([[T0, T0 + HOUR, T0 + 2n * HOUR]]);
  });

  it("a failing piece fails the query with its own answer and aborts the others", async () => {
    const { next, calls } = manualNext();
    const done = split(mergeResponses)(next)(
      metricReq(T0, T0 + 10n * DAY - HOUR, 3_600_000),
      context({ max_query_parallelism: 3 }),
    );
    await flush();
    expect(calls).toHaveLength(3);
    const failure: QueryResponse = {
      status: 400,
      contentType: "text/plain; charset=utf-8",
      raw: new TextEncoder().encode("parse error at line 1, col 5"),
    };
    calls[0]!.resolve(matrixFor(calls[0]!.req));
    await flush();
    const launched = calls.length;
    calls[1]!.resolve(failure);
    expect(await done).toBe(failure);
    await flush();
    expect(calls.length).toBe(launched);
    for (const c of calls.slice(2)) expect(c.signal.aborted).toBe(true);
    // answers arriving afterwards change nothing
    for (const c of calls.slice(2)) c.resolve(matrixFor(c.req));
  });

  it("a piece that throws rejects the query and aborts the others", async () => {
    const { next, calls } = manualNext();
    const done = split(mergeResponses)(next)(
      metricReq(T0, T0 + 5n * DAY - HOUR, 3_600_000),
      context({ max_query_parallelism: 2 }),
    );
    await flush();
    calls[1]!.reject(new Error("querier gone"));
    await expect(done).rejects.toThrow("querier gone");
    expect(calls[0]!.signal.aborted).toBe(true);
  });

  it("a client abort reaches the pieces in flight", async () => {
    const client = new AbortController();
    const { next, calls } = manualNext();
    const done = split(mergeResponses)(next)(
      metricReq(T0, T0 + 5n * DAY - HOUR, 3_600_000),
      context({ max_query_parallelism: 2 }, client.signal),
    );
    await flush();
    expect(calls.map((c) => c.signal.aborted)).toEqual([false, false]);
    client.abort(new Error("client went away"));
    expect(calls.map((c) => c.signal.aborted)).toEqual([true, true]);
    calls[0]!.reject(calls[0]!.signal.reason);
    await expect(done).rejects.toThrow("client went away");
  });

  it("a client that is already gone: no piece is sent and the query fails with the client's reason", async () => {
    const client = new AbortController();
    client.abort(new Error("client went away"));
    let calls = 0;
    const next: Handler = async (req) => {
      calls++;
      return matrixFor(req);
    };
    await expect(
      split(mergeResponses)(next)(
        metricReq(T0, T0 + 3n * DAY, 3_600_000),
        context({ max_query_parallelism: 1 }, client.signal),
      ),
    ).rejects.toThrow("client went away");
    expect(calls).toBe(0);
  });

  it("max_splits_per_query widens the interval by whole multiples", async () => {
    const calls: QueryRequest[] = [];
    const next: Handler = async (req) => {
      calls.push(req);
      return matrixFor(req);
    };
    // 30 days at 1 day would be 31 pieces: capped at 10, the interval becomes 4 days
    await split(mergeResponses)(next)(metricReq(T0, T0 + 30n * DAY, 3_600_000), context({ max_splits_per_query: 10 }));
    expect(calls.length).toBeLessThanOrEqual(10);
    expect(calls.length).toBeGreaterThan(1);
    for (const c of calls.slice(1)) expect(c.startNs % (4n * DAY)).toBe(0n);
    const sorted = [...calls].sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
    expect(sorted[0]!.startNs).toBe(T0);
    expect(sorted.at(-1)!.endNs).toBe(T0 + 30n * DAY);
  });

  // Counterexample: [2.9h, 8.1h) at 1h with at most 2 pieces. span/interval + 1 = 6 pieces estimated,
  // so the interval becomes 3h, which still cuts the range at 3h and 6h: 3 pieces.
  it("max_splits_per_query is never exceeded (unaligned log range)", async () => {
    const calls: QueryRequest[] = [];
    const next: Handler = async (req) => {
      calls.push(req);
      return streamsFor(req, 1);
    };
    const start = T0 + (29n * HOUR) / 10n;
    await split(mergeResponses)(next)(
      logReq(start, T0 + (81n * HOUR) / 10n, 1000, "forward"),
      context({ split_log_queries_by_interval: 3_600_000, max_splits_per_query: 2 }),
    );
    expect(calls.length).toBeLessThanOrEqual(2);
  });

  it("max_splits_per_query is never exceeded (random metric, log and metadata queries)", async () => {
    const r = rng(9);
    const problems: string[] = [];
    for (let i = 0; i < 600; i++) {
      const kinds = ["metric", "log", "metadata"] as const;
      const kind = kinds[i % 3]!;
      const max = 1 + Math.floor(r() * 12);
      const intervalMs = [60_000, 3_600_000, 86_400_000][Math.floor(r() * 3)]!;
      const start = T0 + BigInt(Math.floor(r() * 86_400_000)) * MS;
      const end = start + BigInt(Math.floor(r() * 40 * intervalMs) + 1) * MS;
      let n = 0;
      const next: Handler = async (req) => {
        n++;
        return kind === "log"
          ? streamsFor(req, 1)
          : kind === "metric"
            ? matrixFor(req)
            : ok({ status: "success", data: [] });
      };
      const base =
        kind === "metric"
          ? metricReq(start, end, intervalMs / 12)
          : kind === "log"
            ? logReq(start, end, 5000, "forward")
            : { ...logReq(start, end, 0, "forward"), kind, path: "/loki/api/v1/labels", limit: undefined };
      await split(mergeResponses)(next)(
        base,
        context({
          max_splits_per_query: max,
          split_metric_queries_by_interval: intervalMs,
          split_log_queries_by_interval: intervalMs,
          split_metadata_queries_by_interval: intervalMs,
        }),
      );
      if (n > max) problems.push(`${kind} start=${start} end=${end} interval=${intervalMs}ms max=${max}: ${n} pieces`);
    }
    expect(problems.slice(0, 5), `${problems.length} of 600 over the cap`).toEqual([]);
  });

  it("splits metadata, stats and volume queries by the metadata interval; instant queries never", async () => {
    const calls: QueryRequest[] = [];
    const next: Handler = async (req) => {
      calls.push(req);
      return ok({ status: "success", data: ["a"] });
    };
    const labels: QueryRequest = {
      ...logReq(T0, T0 + 3n * DAY, 0, "forward"),
      kind: "metadata",
      path: "/loki/api/v1/labels",
      limit: undefined,
    };
    const res = await split(mergeResponses)(next)(labels, context({ split_metadata_queries_by_interval: 86_400_000 }));
    expect(calls).toHaveLength(3);
    expect(res.json).toEqual({ status: "success", data: ["a"] });
    calls.length = 0;
    await split(mergeResponses)(next)({ ...labels, kind: "instant" }, context());
    expect(calls).toHaveLength(1);
  });

  it("splitting off (interval 0) sends one piece", async () => {
    const calls: QueryRequest[] = [];
    const next: Handler = async (req) => (calls.push(req), matrixFor(req));
    await split(mergeResponses)(next)(
      metricReq(T0, T0 + 3n * DAY, 3_600_000),
      context({ split_metric_queries_by_interval: 0 }),
    );
    expect(calls).toHaveLength(1);
  });

  // Steps below a millisecond or with a fraction of one ("0.0015", "1.5ms") are valid in Prometheus.
  it("a step that is not a whole number of milliseconds does not crash the split", async () => {
    const calls: QueryRequest[] = [];
    const next: Handler = async (req) => (
      calls.push(req), ok({ status: "success", data: { resultType: "matrix", result: [] } })
    );
    await expect(
      split(mergeResponses)(next)(metricReq(T0 - 1n * S, T0 + 1n * S, 1.5), context()),
    ).resolves.toBeDefined();
    expect(calls.length).toBeGreaterThan(0);
  });
});

describe("align", () => {
  const on = align;
  const aligned = () => context({ align_queries_with_step: true });
  const recordNext = () => {
    const seen: QueryRequest[] = [];
    const next: Handler = async (req) => (seen.push(req), ok({}));
    return { seen, next };
  };

  it("snaps a metric query's start and end down to the step grid when enabled", async () => {
    const { seen, next } = recordNext();
    await on(next)(metricReq(T0 + 30n * 60n * S, T0 + 5n * HOUR + 30n * 60n * S, 3_600_000), aligned());
    expect([seen[0]!.startNs, seen[0]!.endNs]).toEqual([T0, T0 + 5n * HOUR]);
  });

  it("leaves aligned, non-metric and disabled requests alone", async () => {
    const { seen, next } = recordNext();
    const onGrid = metricReq(T0, T0 + HOUR, 60_000);
    const log = logReq(T0 + 1n, T0 + HOUR + 1n, 10, "backward");
    const unaligned = metricReq(T0 + 1n, T0 + HOUR + 1n, 60_000);
    await on(next)(onGrid, aligned());
    await on(next)(log, aligned());
    await align(next)(unaligned, context());
    expect(seen).toEqual([onGrid, log, unaligned]);
  });

  it("a step that is not a whole number of milliseconds does not crash alignment", async () => {
    const { seen, next } = recordNext();
    await expect(on(next)(metricReq(T0 + 1n, T0 + S, 1.5), aligned())).resolves.toBeDefined();
    expect(seen).toHaveLength(1);
  });
});
