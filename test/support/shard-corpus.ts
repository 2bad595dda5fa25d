import { expect } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend } from "../../src/frontend/app.js";
import { ask } from "./frontend-ask.js";

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
function shardingFrontend(
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

/** An hour ago, on the hour (seconds): the end of the corpus' queries, old enough to be cached. */
export const corpusEndS = () => Math.floor(Date.now() / 1000 / 3600) * 3600 - 3600;

/** Two frontends in front of the same queriers, one sharding (`shards` per query), one not. */
export class ShardComparison {
  readonly observed: Record<string, unknown>[] = [];
  readonly sharded: Frontend;
  readonly whole: Frontend;

  constructor(
    queriers: string[],
    kind: "mimir" | "loki",
    readonly shards: number,
    readonly tenant: string,
  ) {
    this.sharded = shardingFrontend(queriers, kind, { query_sharding_total_shards: shards }, this.observed);
    this.whole = shardingFrontend(queriers, "prometheus", {}, []);
  }

  /** One query asked sharded and whole; the sharded answer and how many shard queries it took. */
  async both(form: Record<string, string>, path?: string) {
    const want = await ask(this.whole, form, { tenant: this.tenant, path });
    expect(want.status, JSON.stringify(want.body).slice(0, 300)).toBe(200);
    this.observed.length = 0;
    const got = await ask(this.sharded, form, { tenant: this.tenant, path });
    expect(got.status, JSON.stringify(got.body).slice(0, 300)).toBe(200);
    return { got, want, fields: this.observed[0] ?? {} };
  }

  /**
   * A query at each [step, range] ending at `endS`: cold; warm (the same again: the answer cache); then one step
   * later (with `resultsCached`, the shards' extents answer all but the new step). Each sharded answer equals the
   * whole one, and a shardable query is cut into shards × legs shard queries (avg has two legs), others into none.
   */
  async check(query: string, shardable: boolean, o: CorpusRun): Promise<void> {
    for (const [step, range] of o.steps) {
      const form = { query, start: String(o.endS - range), end: String(o.endS), step: String(step), ...o.extra };
      const later = { ...form, start: String(Number(form.start) + step), end: String(Number(form.end) + step) };
      for (const [run, asked] of [
        ["cold", form],
        ["warm", form],
        ["a step later", later],
      ] as const) {
        const { got, want, fields } = await this.both(asked, o.path);
        expectSameAnswer(query, got.body, want.body, `${run} step ${step}s`);
        if (run === "warm") continue; // answered whole from the answer cache: nothing was sharded again
        const legs = /^\s*avg/.test(query) ? 2 : 1;
        const what = `${run} step ${step}s: ${String(fields.not_sharded)}`;
        expect(fields.shards, what).toBe(shardable ? this.shards * legs : 0);
        if (run === "a step later" && o.resultsCached) expect(fields.cache, what).not.toBe("miss");
      }
    }
  }

  close() {
    return Promise.all([this.sharded.close(), this.whole.close()]);
  }
}

export interface CorpusRun {
  endS: number;
  steps: [step: number, range: number][];
  extra?: Record<string, string>;
  path?: string;
  resultsCached: boolean;
}
