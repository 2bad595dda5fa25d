// Sharded LogQL on real Loki queriers: every query of the corpus, at several steps, cold and warm, answers
// through a sharding fairgate exactly what it answers through a fairgate that does not shard (numbers at a
// relative 1e-9, log entries as sets per stream); the shardable ones are really sharded.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restrictLogQL } from "../../src/policy/logql.js";
import { generateHistory, lokiOrSkip, pushHistory, startLokiQueriers, type TestLokiQueriers } from "../support/loki.js";
import { corpusEndS, expectSameAnswer, ShardComparison } from "../support/shard-corpus.js";

const bin = lokiOrSkip("test/integration/sharding-loki.test.ts");
const TENANT = "tenant-a";
const SHARDS = 4;

type Case = [query: string, sharded: boolean, log?: { limit: string; direction: string }];
export const LOGQL_CORPUS: Case[] = [
  ['{app=~".+"}', true, { limit: "100", direction: "backward" }],
  ['{app="api"} |= "GET"', true, { limit: "50", direction: "forward" }],
  ['{level="error"} | logfmt | status >= 500', true, { limit: "200", direction: "backward" }],
  ['{app=~"api|web"} != "health" | logfmt | line_format "{{.path}}"', true, { limit: "300", direction: "forward" }],
  ['{env="prod"} | logfmt | method="DELETE"', true, { limit: "1000", direction: "forward" }],
  ['sum(count_over_time({app=~".+"}[5m]))', true],
  ['sum by (app) (count_over_time({app=~".+"}[5m]))', true],
  ['sum by (level) (rate({env=~".+"}[10m]))', true],
  ['count_over_time({app="api"}[5m])', true],
  ['rate({app=~".+"} |= "POST" [5m])', true],
  ['sum(bytes_over_time({app=~".+"}[5m]))', true],
  ['sum by (app) (bytes_rate({app=~".+"}[10m]))', true],
  ['sum by (path) (count_over_time({app=~".+"} | logfmt [5m]))', true],
  ['sum by (status) (rate({app=~".+"} | logfmt | status >= 400 [10m]))', true],
  ['max(count_over_time({app=~".+"}[5m]))', true],
  ['min by (level) (count_over_time({app=~".+"}[10m]))', true],
  ['count(count_over_time({app=~".+"}[5m]))', true],
  ['avg(count_over_time({app=~".+"}[5m]))', true],
  ['avg by (app) (rate({app=~".+"}[10m]))', true],
  ['topk(3, bytes_over_time({app=~".+"}[10m]))', true],
  ['bottomk(2, bytes_over_time({app=~".+"}[10m]))', true],
  ['max_over_time({app=~".+"} | logfmt | unwrap duration [5m]) by (app)', true],
  ['sum(sum_over_time({app=~".+"} | logfmt | unwrap duration [10m]))', true],
  ['min(min_over_time({app=~".+"} | logfmt | unwrap duration [10m]))', true],
  ['max by (app) (max_over_time({app=~".+"} | logfmt | unwrap duration [10m]))', true],
  ['sum by (level) (count_over_time({app=~".+"} |~ "orders|users" [15m]))', true],
  ['quantile_over_time(0.9, {app="api"} | logfmt | unwrap duration [10m])', false],
  ['sum(rate({app=~".+"}[5m])) / 2', false],
];

describe.skipIf(!bin)("sharded LogQL on real Loki queriers", () => {
  let loki: TestLokiQueriers;
  let compare: ShardComparison;
  const endS = corpusEndS();
  const path = "/loki/api/v1/query_range";

  beforeAll(async () => {
    loki = await startLokiQueriers({ bin });
    await pushHistory(loki.write, generateHistory({ days: 1.2, tenants: [TENANT] }));
    compare = new ShardComparison(loki.querierUrls, "loki", SHARDS, TENANT);
  }, 180_000);
  afterAll(async () => {
    await compare?.close();
    await loki?.close();
  });

  it.each(LOGQL_CORPUS)("%s (sharded: %s)", async (query, shardable, log) => {
    const steps: [number, number][] = [
      [60, 6 * 3600],
      [300, 24 * 3600],
      [900, 24 * 3600],
    ];
    // Log queries are not results-cached (only metric queries are).
    await compare.check(query, shardable, {
      endS,
      steps: log ? steps.slice(0, 2) : steps,
      extra: log,
      path,
      resultsCached: !log,
    });
  });

  it("relies on Loki's shards parameter as it is: halves add up to the whole, powers of two only", async () => {
    const count = async (shards?: string) => {
      const p = new URLSearchParams({
        query: 'sum(count_over_time({env="prod"}[1h]))',
        start: String(endS - 3600),
        end: String(endS),
        step: "3600",
        ...(shards ? { shards } : {}),
      });
      const res = await fetch(`${loki.querierUrls[0]}/loki/api/v1/query_range?${p}`, {
        headers: { "X-Scope-OrgID": TENANT },
      });
      const text = await res.text();
      if (res.status !== 200) return { status: res.status, text };
      const result = JSON.parse(text).data.result as { values: [number, string][] }[];
      return { status: 200, n: result.reduce((n, s) => n + Number(s.values.at(-1)![1]), 0) };
    };
    const whole = await count();
    const halves = await Promise.all(["0_of_2", "1_of_2"].map(count));
    expect(whole.n).toBeGreaterThan(0);
    expect(halves[0]!.n! + halves[1]!.n!).toBe(whole.n);
    expect(await count("0_of_3")).toEqual({ status: 500, text: expect.stringContaining("power of two") });
  });

  it("shards a label-policy-restricted query, each shard seeing only the policy's streams", async () => {
    const query = restrictLogQL('sum by (app, level) (count_over_time({env="prod"}[10m]))', [
      [{ name: "app", op: "=~", value: "api|web" }],
    ]);
    const form = { query, start: String(endS - 6 * 3600), end: String(endS), step: "300" };
    const { got, want, fields } = await compare.both(form, path);
    expect(fields.shards).toBe(SHARDS);
    expectSameAnswer(query, got.body, want.body, "policy");
    const apps = new Set(got.body.data.result.map((s: { metric: Record<string, string> }) => s.metric.app));
    expect([...apps].sort()).toEqual(["api", "web"]);
  });
});
