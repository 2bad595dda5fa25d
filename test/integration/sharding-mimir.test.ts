// Sharded PromQL on real Mimir queriers: every query of the corpus, at several steps, cold and warm, answers
// through a sharding fairgate exactly what it answers through a fairgate that does not shard (numbers at a
// relative 1e-9); the shardable ones are really sharded, and a label policy's matchers reach every shard.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restrictPromQL } from "../../src/policy/promql.js";
import { generateMetrics, mimirOrSkip, startMimirQueriers, type TestMimirQueriers } from "../support/mimir.js";
import { metricValue } from "../support/frontend-ask.js";
import { corpusEndS, expectSameAnswer, ShardComparison } from "../support/shard-corpus.js";

const bin = mimirOrSkip("test/integration/sharding-mimir.test.ts");
const TENANT = "team-a";
const SHARDS = 6; // not a power of two: Mimir takes any count

/** [query, sharded?] */
export const PROMQL_CORPUS: [string, boolean][] = [
  ["sum(rate(http_requests_total[5m]))", true],
  ["sum by (job) (rate(http_requests_total[5m]))", true],
  ["sum by (job, code) (increase(http_requests_total[10m]))", true],
  ["sum without (instance) (rate(http_requests_total[5m]))", true],
  ["sum(http_requests_total)", true],
  ["count(http_requests_total)", true],
  ["count by (code) (http_requests_total)", true],
  ["count without (instance) (queue_depth)", true],
  ["min(queue_depth)", true],
  ["max by (job) (queue_depth)", true],
  ["min by (instance) (rate(http_requests_total[5m]))", true],
  ["max without (code) (irate(http_requests_total[5m]))", true],
  ["group by (job) (http_requests_total)", true],
  ["group(queue_depth)", true],
  ["avg(queue_depth)", true],
  ["avg by (job) (rate(http_requests_total[5m]))", true],
  ["avg without (instance, method) (rate(http_requests_total[15m]))", true],
  ["topk(3, rate(http_requests_total[5m]))", true],
  ['bottomk(2, rate(http_requests_total{code="200"}[5m]))', true],
  ["topk by (job) (2, rate(http_requests_total[10m]))", true],
  ["topk without (instance) (1, increase(http_requests_total[1h]))", true],
  ['sum(rate(http_requests_total{job="api"}[5m]))', true],
  ['sum by (code) (rate(http_requests_total{code=~"4..|5.."}[5m]))', true],
  ['sum(rate(http_requests_total{method!="GET"}[5m] offset 1h))', true],
  ["max(max_over_time(queue_depth[30m]))", true],
  ["sum(avg_over_time(queue_depth[15m]))", true],
  ["sum by (job) (delta(queue_depth[10m]))", true],
  ["count(rate(http_requests_total[5m]) > 1)", true],
  ["sum(rate(http_requests_total[5m]) * 60)", true],
  ["sum by (job) (clamp_max(rate(http_requests_total[5m]), 5))", true],
  ["max(quantile_over_time(0.9, queue_depth[30m]))", true],
  ["sum(resets(http_requests_total[1h]))", true],
  ["sum(changes(queue_depth[30m]))", true],
  ['rate(http_requests_total{job="worker", code="500"}[5m])', true],
  ['queue_depth{job="api"}', true],
  ['http_requests_total{instance="api-0:8080"} * 2', true],
  ['max_over_time(rate(http_requests_total{code="404"}[5m])[30m:1m])', true],
  ["sum(sum_over_time(queue_depth[10m]))", true],
  ["(sum by (job) (rate(http_requests_total[5m])))", true],
  ["count_over_time(queue_depth[10m])", true],
  ["sum(deriv(queue_depth[20m]))", true],
  ["sum by (method) (rate(http_requests_total[5m])) / 2", false],
  ["histogram_quantile(0.9, sum by (le) (rate(http_requests_total[5m])))", false],
  ["stddev(queue_depth)", false],
];

describe.skipIf(!bin)("sharded PromQL on real Mimir queriers", () => {
  let mimir: TestMimirQueriers;
  let compare: ShardComparison;
  const endS = corpusEndS();

  beforeAll(async () => {
    mimir = await startMimirQueriers({ bin });
    await mimir.push(TENANT, generateMetrics({ days: 1.2, instancesPerJob: 6, endMs: endS * 1000 + 1800_000 }));
    compare = new ShardComparison(mimir.querierUrls, "mimir", SHARDS, TENANT);
  }, 180_000);
  afterAll(async () => {
    await compare?.close();
    await mimir?.close();
  });

  it.each(PROMQL_CORPUS)("%s (sharded: %s)", async (query, shardable) => {
    const steps: [number, number][] = [
      [60, 6 * 3600], // 6 h at 1 m
      [300, 24 * 3600], // a day at 5 m: two day splits
      [900, 24 * 3600],
    ];
    await compare.check(query, shardable, { endS, steps, resultsCached: true });
  });

  it("counts sharded and unsharded range queries, why, and the shards per query", async () => {
    const form = { query: "stddev(queue_depth)", start: String(endS - 3600), end: String(endS), step: "60" };
    await compare.both(form);
    await compare.both({ ...form, query: "sum(queue_depth)" });
    const sharded = await metricValue(compare.sharded, "fairgate_sharded_queries_total", 'sharded="true",reason=""');
    const why = 'sharded="false",reason="aggregation stddev"';
    expect(sharded).toBeGreaterThan(0);
    expect(await metricValue(compare.sharded, "fairgate_sharded_queries_total", why)).toBeGreaterThan(0);
    expect(await metricValue(compare.sharded, "fairgate_shards_per_query_count")).toBe(sharded);
    expect(await metricValue(compare.sharded, "fairgate_shards_per_query_bucket", 'le="4"')).toBe(0);
    const never = 'sharded="false",reason="prometheus queriers"';
    expect(await metricValue(compare.whole, "fairgate_sharded_queries_total", never)).toBeGreaterThan(1);
  });

  it("shards a label-policy-restricted query, each shard seeing only the policy's series", async () => {
    const policy = restrictPromQL("sum by (job, code) (rate(http_requests_total[5m]))", [
      [{ name: "code", op: "=~", value: "4..|5.." }],
      [{ name: "job", op: "=", value: "worker" }],
    ]);
    const form = { query: policy, start: String(endS - 6 * 3600), end: String(endS), step: "300" };
    const { got, want, fields } = await compare.both(form);
    expect(fields.shards).toBe(SHARDS);
    expectSameAnswer(policy, got.body, want.body, "policy");
    const seen = got.body.data.result.map(
      (s: { metric: Record<string, string> }) => `${s.metric.job}/${s.metric.code}`,
    );
    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) expect(s.startsWith("worker/") || /\/[45]/.test(s), s).toBe(true);
    expect(seen).not.toContain("api/200");
  });
});
