import { expect } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend } from "../../src/frontend/app.js";

// Comparing a sharded answer with the unsharded one from the same real backend: numbers at a relative 1e-9,
// log entries as sets per stream, and topk/bottomk by the values each time holds (which of several series
// with equal values a querier picks is its own choice, sharded or not).

type Labels = Record<string, string>;
interface Body {
  status: string;
  data: { resultType: string; result: { metric?: Labels; stream?: Labels; values: [number | string, string][] }[] };
}

const key = (l: Labels = {}) => JSON.stringify(Object.entries(l).sort(([a], [b]) => (a < b ? -1 : 1)));

export function near(a: string, b: string): boolean {
  const [x, y] = [Number(a), Number(b)];
  if (Number.isNaN(x) || Number.isNaN(y)) return a === b;
  return x === y || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
}

/** Series by labels, each with its samples; fails with the first difference. */
function sameMatrix(got: Body, want: Body, what: string): void {
  const index = (b: Body) => new Map(b.data.result.map((s) => [key(s.metric), s.values]));
  const [g, w] = [index(got), index(want)];
  expect([...g.keys()].sort(), `${what}: series`).toEqual([...w.keys()].sort());
  for (const [k, values] of w) {
    const mine = g.get(k)!;
    expect(
      mine.map(([t]) => t),
      `${what}: times of ${k}`,
    ).toEqual(values.map(([t]) => t));
    for (const [i, [t, v]] of values.entries())
      if (!near(mine[i]![1], v)) expect(`${mine[i]![1]} at ${t}`, `${what}: ${k}`).toBe(`${v} at ${t}`);
  }
}

/** The values each time holds, sorted: topk's answer up to which of equal series was picked. */
function sameValuesPerTime(got: Body, want: Body, what: string): void {
  const byTime = (b: Body) => {
    const m = new Map<string, number[]>();
    for (const s of b.data.result)
      for (const [t, v] of s.values) m.set(String(t), [...(m.get(String(t)) ?? []), Number(v)]);
    return new Map([...m].map(([t, vs]) => [t, vs.sort((a, c) => a - c)]));
  };
  const [g, w] = [byTime(got), byTime(want)];
  expect([...g.keys()].sort(), `${what}: times`).toEqual([...w.keys()].sort());
  for (const [t, vs] of w) {
    const mine = g.get(t)!;
    expect(mine.length, `${what}: samples at ${t}`).toBe(vs.length);
    for (const [i, v] of vs.entries())
      if (!near(String(mine[i]), String(v))) expect(mine, `${what}: values at ${t}`).toEqual(vs);
  }
}

/** Log entries per stream, as sets. */
function sameStreams(got: Body, want: Body, what: string): void {
  const index = (b: Body) => {
    const m = new Map<string, string[]>();
    for (const s of b.data.result)
      m.set(key(s.stream), [...(m.get(key(s.stream)) ?? []), ...s.values.map((v) => `${v[0]} ${v[1]}`)]);
    return Object.fromEntries([...m].map(([k, v]) => [k, v.sort()]));
  };
  expect(index(got), what).toEqual(index(want));
}

export function expectSameAnswer(query: string, got: Body, want: Body, what: string): void {
  expect(got.status, `${what}: ${JSON.stringify(got).slice(0, 300)}`).toBe("success");
  expect(got.data.resultType, what).toBe(want.data.resultType);
  if (want.data.resultType === "streams") sameStreams(got, want, what);
  else if (/^\s*(topk|bottomk)\b/.test(query)) sameValuesPerTime(got, want, what);
  else sameMatrix(got, want, what);
}

/** A frontend in front of `queriers`, sharding as `kind` queriers shard (prometheus: never), with a results cache. */
export function shardingFrontend(
  queriers: string[],
  kind: "mimir" | "loki" | "prometheus",
  limits: Record<string, unknown>,
  observed: Record<string, unknown>[],
): Frontend {
  const config = parseConfig({
    frontend: {
      queriers: queriers.map((url) => ({ url, max_concurrent: 4 })),
      querier_kind: kind,
      limits: { max_cache_freshness: "5m", ...limits },
      cache: { backend: "memory" },
    },
  }).frontend!;
  return createFrontend(config, { observe: (f) => observed.push(f), log: () => {} });
}
