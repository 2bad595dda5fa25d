import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../../../src/config/schema.js";
import { lokiCodec } from "../../../../src/frontend/api/loki.js";
import { mergeResponses } from "../../../../src/frontend/api/merge-responses.js";
import type { Params, QueryRequest, QueryResponse } from "../../../../src/frontend/types.js";

// Real Loki 3.4.6 answers, full and split (see test/support/fixtures/loki/README.md).
interface Fixture {
  request: { path: string; params: Params };
  status: number;
  responseContentType: string;
  response: unknown;
}
const FIXTURES = new URL("../../../support/fixtures/loki/", import.meta.url);
const load = (name: string): Fixture => JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), "utf8")) as Fixture;
const NOW = 1_795_400_000_000_000_000n;

/** The QueryRequest the frontend builds for a fixture's request, parsed by the real codec. */
function requestOf(f: Fixture): QueryRequest {
  return lokiCodec.parse(f.request.path.replace("/loki/api/v1/", ""), f.request.params, NOW, DEFAULT_LIMITS);
}
const responseOf = (f: Fixture): QueryResponse => ({
  status: f.status,
  contentType: f.responseContentType,
  json: structuredClone(f.response),
});

type Entry = [string, string, ...unknown[]];
interface Stream {
  stream: Record<string, string>;
  values: Entry[];
}
interface Body {
  status: string;
  data: { resultType: string; result: unknown[]; stats?: { summary: Record<string, number> } };
}
const body = (r: QueryResponse) => r.json as Body;

/** Merges the three chronological splits of `name`'s full query. */
function mergeSplits(name: string): { full: Fixture; splits: Fixture[]; merged: QueryResponse; req: QueryRequest } {
  const full = load(`${name}_full`);
  const splits = [0, 1, 2].map((i) => load(`${name}_split_${i}`));
  const req = requestOf(full);
  return { full, splits, merged: mergeResponses(req, splits.map(responseOf)), req };
}

const countByApp = (result: Stream[]) => Object.fromEntries(result.map((s) => [s.stream.app, s.values.length]));

describe("merging recorded Loki split answers", () => {
  it("metric_3d: the day splits merge into the unsplit answer's result", () => {
    const { full, splits, merged, req } = mergeSplits("metric_3d");
    expect(req.kind).toBe("metric");
    expect(req.stepMs).toBe(3_600_000);
    expect(merged.status).toBe(200);
    expect(merged.contentType).toBe(full.responseContentType);
    const fullBody = full.response as Body;
    expect(body(merged).status).toBe("success");
    expect(body(merged).data.resultType).toBe("matrix");
    expect(body(merged).data.result).toEqual(fullBody.data.result);
    expect(body(merged).data.result.flatMap((s) => (s as { values: unknown[] }).values)).toHaveLength(265);

    const summary = body(merged).data.stats!.summary;
    const parts = splits.map((s) => (s.response as Body).data.stats!.summary);
    expect(summary.splits).toBe(3);
    expect(summary.totalBytesProcessed).toBe(parts.reduce((n, p) => n + p.totalBytesProcessed!, 0));
    expect(summary.totalLinesProcessed).toBe(parts.reduce((n, p) => n + p.totalLinesProcessed!, 0));
    expect(summary.execTime).toBeCloseTo(
      parts.reduce((n, p) => n + p.execTime!, 0),
      9,
    );
    expect(summary.bytesProcessedPerSecond).toBe(Math.floor(summary.totalBytesProcessed! / summary.execTime!));
    expect(summary.linesProcessedPerSecond).toBe(Math.floor(summary.totalLinesProcessed! / summary.execTime!));
  });

  it("metric_3d: merging does not change the parts", () => {
    const splits = [0, 1, 2].map((i) => load(`metric_3d_split_${i}`));
    const parts = splits.map(responseOf);
    const before = structuredClone(parts.map((p) => p.json));
    mergeResponses(requestOf(load("metric_3d_full")), parts);
    expect(parts.map((p) => p.json)).toEqual(before);
  });

  it.each(["log_2d_backward", "log_2d_forward"])(
    "%s: the day splits merge into the unsplit answer's result (limit 50)",
    (name) => {
      const { full, merged, req } = mergeSplits(name);
      expect(req).toMatchObject({
        kind: "log",
        limit: 50,
        direction: name.endsWith("backward") ? "backward" : "forward",
      });
      expect(body(merged).data.resultType).toBe("streams");
      expect(body(merged).data.result).toEqual((full.response as Body).data.result);
      expect((body(merged).data.result as Stream[]).reduce((n, s) => n + s.values.length, 0)).toBe(50);
      expect(body(merged).data.stats!.summary.splits).toBe(3);
    },
  );

  it.each([
    ["log_2d_multistream_backward", { web: 24, api: 26 }, { web: 25, api: 25 }],
    ["log_2d_multistream_forward", { api: 32, web: 18 }, { api: 31, web: 19 }],
  ] as const)("%s: the strict merge gives %j (Loki 3.4.6 answered %j)", (name, strict, loki) => {
    const { full, splits, merged, req } = mergeSplits(name);
    const result = body(merged).data.result as Stream[];
    const fullResult = (full.response as Body).data.result as Stream[];
    expect(countByApp(result)).toEqual(strict);
    expect(countByApp(fullResult)).toEqual(loki);
    expect(result).not.toEqual(fullResult);

    // independently: the 50 entries nearest the query's end (backward) or start (forward)
    const all = splits.flatMap((s) =>
      ((s.response as Body).data.result as Stream[]).flatMap((st) =>
        st.values.map((v) => ({ app: st.stream.app!, ts: BigInt(v[0]), line: v[1] })),
      ),
    );
    all.sort((a, b) => (a.ts === b.ts ? 0 : a.ts < b.ts === (req.direction === "forward") ? -1 : 1));
    const want = all.slice(0, 50);
    const got = result.flatMap((st) => st.values.map((v) => ({ app: st.stream.app!, ts: BigInt(v[0]), line: v[1] })));
    const key = (e: { app: string; ts: bigint; line: string }) => `${e.app} ${e.ts} ${e.line}`;
    expect(got.map(key).sort()).toEqual(want.map(key).sort());
    // each stream in direction order; streams ordered by their first entry
    for (const st of result) {
      const ts = st.values.map((v) => BigInt(v[0]));
      expect(ts.every((t, i) => i === 0 || (req.direction === "forward" ? ts[i - 1]! <= t : ts[i - 1]! >= t))).toBe(
        true,
      );
    }
    expect(result.map((s) => s.stream.app)).toEqual([want[0]!.app, want.find((e) => e.app !== want[0]!.app)!.app]);
  });

  it("labels, label values and series: a split answer merged with itself is unchanged", () => {
    for (const name of ["labels", "label_app_values", "series_app_api"]) {
      const f = load(name);
      const req = requestOf(f);
      expect(req.kind).toBe("metadata");
      const merged = mergeResponses(req, [responseOf(f), responseOf(f)]);
      const want = (f.response as { data: unknown[] }).data;
      const got = (merged.json as { data: unknown[] }).data;
      if (name === "series_app_api") expect(got).toHaveLength(want.length);
      else expect(got).toEqual(want);
    }
  });

  it("index/stats bodies (no envelope) add up", () => {
    const f = load("index_stats");
    const req = requestOf(f);
    expect(req.kind).toBe("stats");
    const one = f.response as Record<string, number>;
    const merged = mergeResponses(req, [responseOf(f), responseOf(f)]).json as Record<string, number>;
    expect(merged).toEqual(Object.fromEntries(Object.entries(one).map(([k, v]) => [k, v * 2])));
  });

  it("index/volume by app: volumes add up, largest first", () => {
    const f = load("index_volume_by_app");
    const req = requestOf(f);
    expect(req.kind).toBe("volume");
    const merged = mergeResponses(req, [responseOf(f), responseOf(f)]).json as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    const original = (f.response as typeof merged).data.result;
    expect(merged.data.result).toHaveLength(original.length);
    for (const s of merged.data.result) {
      const o = original.find((x) => JSON.stringify(x.metric) === JSON.stringify(s.metric))!;
      expect(s.value[1]).toBe((BigInt(o.value[1]) * 2n).toString());
    }
    const values = merged.data.result.map((s) => BigInt(s.value[1]));
    expect(values.every((v, i) => i === 0 || values[i - 1]! >= v)).toBe(true);
  });

  it("empty tenant answers merge into an empty result", () => {
    const logs = load("empty_tenant_logs");
    const metric = load("empty_tenant_metric");
    expect(body(mergeResponses(requestOf(logs), [responseOf(logs), responseOf(logs)])).data.result).toEqual([]);
    expect(body(mergeResponses(requestOf(metric), [responseOf(metric), responseOf(metric)])).data.result).toEqual([]);
  });

  it("one part is answered as it came; an unmergeable type is an internal error", () => {
    const f = load("instant_metric_vector");
    const part = responseOf(f);
    const req = { ...requestOf(load("metric_3d_full")) };
    expect(mergeResponses(req, [part])).toBe(part);
    expect(() => mergeResponses(req, [part, part])).toThrow(expect.objectContaining({ name: "ApiError", status: 500 }));
    expect(() => mergeResponses(requestOf(f), [part, part])).toThrow(expect.objectContaining({ status: 500 }));
  });
});
