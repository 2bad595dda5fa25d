// Property: for generated series, queries and shard assignments, merging the shards' answers (each
// shard query evaluated over the series its shard matcher selects) gives the unsharded answer.
// Values are multiples of 1/1024 with distinct series offsets, so sums are exact and topk has no ties.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Labels } from "../../../../src/frontend/api/labels.js";
import { mergeStreams } from "../../../../src/frontend/api/merge.js";
import { type Body, mergeShards } from "../../../../src/frontend/shard/merge.js";
import { planLogQL } from "../../../../src/frontend/shard/logql.js";
import { planPromQL } from "../../../../src/frontend/shard/promql.js";
import { type Data, evaluate, type MatrixBody } from "../../../support/tiny-promql.js";

const TIMES = 6;
const seriesArb = fc
  .uniqueArray(
    fc.record({
      a: fc.constantFrom("a1", "a2", "a3"),
      b: fc.constantFrom("b1", "b2", ""),
      pod: fc.constantFrom("p1", "p2", "p3", "p4"),
    }),
    { minLength: 1, maxLength: 12, selector: (l) => `${l.a}/${l.b}/${l.pod}` },
  )
  .chain((labels) =>
    fc.tuple(
      fc.constant(labels),
      fc.array(
        fc.array(fc.option(fc.integer({ min: -800, max: 800 }), { nil: undefined, freq: 5 }), {
          minLength: TIMES,
          maxLength: TIMES,
        }),
        { minLength: labels.length, maxLength: labels.length },
      ),
      fc.array(fc.nat(), { minLength: labels.length, maxLength: labels.length }),
    ),
  )
  .map(([labels, values, shardSeeds]) => ({
    series: {
      labels: labels.map((l) =>
        Object.fromEntries(Object.entries({ __name__: "x", ...l }).filter(([, v]) => v !== "")),
      ),
      valueAt: (i: number, t: number) => {
        const v = values[i]![t];
        return v === undefined ? undefined : v / 8 + (i + 1) / 1024;
      },
    } as Data,
    shardSeeds,
  }));
const times = Array.from({ length: TIMES }, (_, t) => t);

const grouping = fc.oneof(
  fc.constant(""),
  fc.subarray(["a", "b", "pod"], { minLength: 1 }).map((ls) => `by (${ls.join(", ")}) `),
  fc.subarray(["a", "b", "pod"], { minLength: 1 }).map((ls) => `without (${ls.join(", ")}) `),
);
const inner = fc.constantFrom("x", 'x{a="a1"}', "x * 2", "(x)");
const query = fc.oneof(
  fc
    .tuple(fc.constantFrom("sum", "count", "min", "max", "group", "avg"), grouping, inner)
    .map(([op, g, i]) => `${op} ${g}(${i})`),
  fc
    .tuple(fc.constantFrom("topk", "bottomk"), grouping, fc.integer({ min: 1, max: 4 }), inner)
    .map(([op, g, k, i]) => `${op} ${g}(${k}, ${i})`),
  inner,
);

const near = (a: string, b: string) => {
  const [x, y] = [Number(a), Number(b)];
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y);
  return x === y || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
};
const normal = (b: { data: { result: unknown[] } }) =>
  (b.data.result as { metric: Labels; values: [number, string][] }[])
    .map((s) => ({ key: JSON.stringify(Object.entries(s.metric).sort()), values: s.values }))
    .sort((p, q) => (p.key < q.key ? -1 : 1));

function expectSameMatrix(got: { data: { result: unknown[] } }, want: MatrixBody) {
  const [g, w] = [normal(got), normal(want)];
  expect(g.map((s) => s.key)).toEqual(w.map((s) => s.key));
  g.forEach((s, i) => {
    expect(s.values.map(([t]) => t)).toEqual(w[i]!.values.map(([t]) => t));
    for (const [j, [, v]] of s.values.entries())
      expect(near(v, w[i]!.values[j]![1]), `${s.key} ${v} vs ${w[i]!.values[j]![1]}`).toBe(true);
  });
}

describe("shard merge property", () => {
  it("PromQL: merging the shards' answers equals the unsharded answer", () => {
    fc.assert(
      fc.property(seriesArb, query, fc.integer({ min: 2, max: 5 }), ({ series, shardSeeds }, q, n) => {
        const planned = planPromQL(q, { maxRegexpBytes: 4096 });
        if ("reason" in planned) throw new Error(`${q} not sharded: ${planned.reason}`);
        const shardOf = (i: number, of: number) => shardSeeds[i]! % of;
        const legs = planned.plan.legs.map((leg) =>
          Array.from({ length: n }, (_, s) => evaluate(leg(s, n).query, series, times, shardOf) as unknown as Body),
        );
        const merged = mergeShards(planned.plan.merge, legs);
        expectSameMatrix(
          merged,
          evaluate(q, series, times, () => 0),
        );
      }),
      { numRuns: 400 },
    );
  });

  it("LogQL logs: the limit nearest entries over all shards equal the unsharded ones, both directions", () => {
    const entries = fc.uniqueArray(
      fc.record({ stream: fc.integer({ min: 0, max: 5 }), ts: fc.integer({ min: 1, max: 10_000 }) }),
      {
        selector: (e) => e.ts,
        maxLength: 40,
      },
    );
    fc.assert(
      fc.property(
        entries,
        fc.integer({ min: 1, max: 30 }),
        fc.boolean(),
        fc.integer({ min: 2, max: 4 }),
        (all, limit, fwd, n) => {
          const direction = fwd ? "forward" : "backward";
          const planned = planLogQL('{app=~".+"} |= "x"', { maxRegexpBytes: 4096 });
          if ("reason" in planned) throw new Error(planned.reason);
          // A querier's answer: the `limit` nearest entries of the streams it reads.
          const answer = (keep: (stream: number) => boolean) => {
            const picked = all
              .filter((e) => keep(e.stream))
              .sort((p, q) => (fwd ? p.ts - q.ts : q.ts - p.ts))
              .slice(0, limit);
            const streams = new Map<number, [string, string][]>();
            for (const e of picked)
              streams.set(e.stream, [...(streams.get(e.stream) ?? []), [String(e.ts), `line ${e.ts}`]]);
            return {
              status: "success",
              data: {
                resultType: "streams",
                result: [...streams].map(([s, values]) => ({ stream: { s: String(s) }, values })),
              },
            } as Body;
          };
          const shards = Array.from({ length: n }, (_, i) => answer((s) => s % n === i));
          const merged = mergeShards(planned.plan.merge, [shards], { limit, direction });
          const whole = mergeStreams([answer(() => true)] as never, limit, direction);
          expect(merged.data.result).toEqual((whole as Body).data.result);
        },
      ),
      { numRuns: 300 },
    );
  });
});
