// The shard planner, rule by rule: what is cut into shards, how each shard query reads, and what stays whole.
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../../../src/config/schema.js";
import { planLogQL } from "../../../../src/frontend/shard/logql.js";
import type { Planned, ShardPlan } from "../../../../src/frontend/shard/plan.js";
import { planPromQL } from "../../../../src/frontend/shard/promql.js";
import { shardCount } from "../../../../src/frontend/shard/shard.js";

const opts = { maxRegexpBytes: 4096 };
const planOf = (p: Planned): ShardPlan => {
  if ("reason" in p) throw new Error(`not sharded: ${p.reason}`);
  return p.plan;
};
const reasonOf = (p: Planned) => ("reason" in p ? p.reason : undefined);

describe("PromQL shard planner (Mimir)", () => {
  it("adds the shard matcher to every selector, 1-based, keeping offsets, @ and ranges", () => {
    const plan = planOf(planPromQL('sum by (pod) (rate(x{job="a"}[5m] offset 1m)) ', opts));
    expect(plan.merge).toEqual({ kind: "combine", op: "sum" });
    expect(plan.legs).toHaveLength(1);
    expect(plan.legs[0]!(0, 4).query).toBe('sum by (pod) (rate(x{__query_shard__="1_of_4", job="a"}[5m] offset 1m)) ');
    expect(plan.legs[0]!(3, 4).query).toContain('__query_shard__="4_of_4"');
    expect(planOf(planPromQL("max(y @ 100)", opts)).legs[0]!(1, 2).query).toBe(
      'max(y{__query_shard__="2_of_2"} @ 100)',
    );
    expect(planOf(planPromQL('count({__name__="y"})', opts)).legs[0]!(0, 2).query).toBe(
      'count({__query_shard__="1_of_2", __name__="y"})',
    );
  });

  it.each([
    ["sum(x)", { kind: "combine", op: "sum" }],
    ["count without (a) (x)", { kind: "combine", op: "sum" }],
    ["min(x)", { kind: "combine", op: "min" }],
    ["max by (a) (x)", { kind: "combine", op: "max" }],
    ["group by (a) (x)", { kind: "combine", op: "group" }],
    ["sum(x) by (a)", { kind: "combine", op: "sum" }],
    ["((sum(x)))", { kind: "combine", op: "sum" }],
    ["x", { kind: "concat" }],
    ["rate(x[5m]) * 8 > 1", { kind: "concat" }],
    ["-max_over_time(rate(x[5m])[1h:1m])", { kind: "concat" }],
    ["clamp_min(x, 0)", { kind: "concat" }],
    ['quantile_over_time(0.9, x{a="b"}[10m])', { kind: "concat" }],
    ["(x{a='1'} or x{a='2'})", { kind: "concat" }],
    ["topk(3, rate(x[5m]))", { kind: "top", k: 3, bottom: false, grouping: { without: false, labels: [] } }],
    ["bottomk by (a) (2, x)", { kind: "top", k: 2, bottom: true, grouping: { without: false, labels: ["a"] } }],
    ["topk without (b) (1, x)", { kind: "top", k: 1, bottom: false, grouping: { without: true, labels: ["b"] } }],
  ])("%s is sharded", (q, merge) => {
    expect(planOf(planPromQL(q, opts)).merge).toEqual(merge);
  });

  it("avg becomes two legs, sum and count", () => {
    const plan = planOf(planPromQL("avg by (a) (rate(x[5m]))", opts));
    expect(plan.merge).toEqual({ kind: "avg" });
    expect(plan.legs.map((l) => l(0, 2).query)).toEqual([
      'sum by (a) (rate(x{__query_shard__="1_of_2"}[5m]))',
      'count by (a) (rate(x{__query_shard__="1_of_2"}[5m]))',
    ]);
  });

  it.each([
    ["quantile(0.9, x)", "aggregation quantile"],
    ["stddev(x)", "aggregation stddev"],
    ['count_values("v", x)', "aggregation count_values"],
    ["absent(x)", "function absent"],
    ["sort(x)", "function sort"],
    ["sum(absent_over_time(x[5m]))", "function absent_over_time"],
    ['label_replace(x, "a", "$1", "b", "(.*)")', "function label_replace"],
    ["histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))", "function histogram_quantile"],
    ["sum(x) / sum(y)", "binary operation between vectors"],
    ["sum by (a) (x) * on (a) group_left y", "binary operation between vectors"],
    ["sum(x) * 2", "aggregation inside another expression"],
    ["sum(sum by (a) (x))", "aggregation inside another expression"],
    ["topk(3, sum by (a) (x))", "aggregation inside another expression"],
    ["x or y", "or between different metrics"],
    ["1 + 2", "no series selector"],
    ["vector(1)", "function vector"],
    ["sum(time())", "function time"],
    ["topk(scalar(y), x)", "topk with k not a positive whole number"],
    ['sum(x{__query_shard__="1_of_2"})', "already sharded"],
    ["sum(x", "not parsed"],
  ])("%s stays whole (%s)", (q, reason) => {
    expect(reasonOf(planPromQL(q, opts))).toBe(reason);
  });

  it("leaves a query with a regex past the limit whole, and shards one at the limit", () => {
    const at = "a".repeat(4096);
    expect(reasonOf(planPromQL(`sum(x{a=~"${at}"})`, opts))).toBeUndefined();
    expect(reasonOf(planPromQL(`sum(x{a!~"${at}b"})`, opts))).toBe("regex longer than 4096 bytes");
  });
});

describe("LogQL shard planner (Loki)", () => {
  it("asks every shard the same query with shards=i_of_n, 0-based", () => {
    const q = 'sum by (app) (count_over_time({app=~".+"} |= "x" [5m]))';
    const plan = planOf(planLogQL(q, opts));
    expect(plan.legs[0]!(1, 4)).toEqual({ query: q, params: { shards: "1_of_4" } });
  });

  it.each([
    ['{app="a"} |= "x" | json | drop pod', { kind: "logs" }],
    ['count_over_time({app="a"} | json | drop pod [5m])', { kind: "combine", op: "sum" }],
    ['rate({app="a"}[1m])', { kind: "combine", op: "sum" }],
    ['bytes_rate({app="a"}[1m])', { kind: "combine", op: "sum" }],
    ['max_over_time({app="a"} | logfmt | unwrap d [1m]) by (x)', { kind: "combine", op: "max" }],
    ['quantile_over_time(0.9, {app="a"} | unwrap d [1m])', { kind: "concat" }],
    ['sum by (a) (bytes_over_time({app="a"} | json [5m]))', { kind: "combine", op: "sum" }],
    ['count(rate({app="a"}[1m]))', { kind: "combine", op: "sum" }],
    ['min(min_over_time({app="a"} | json | unwrap d [1m]))', { kind: "combine", op: "min" }],
    ['max by (x) (rate({app="a"}[1m]))', { kind: "combine", op: "max" }],
    [
      'topk(2, rate({app="a"}[1m])) by (pod)',
      { kind: "top", k: 2, bottom: false, grouping: { without: false, labels: ["pod"] } },
    ],
  ])("%s is sharded", (q, merge) => {
    expect(planOf(planLogQL(q, opts)).merge).toEqual(merge);
  });

  it("avg becomes two legs, sum and count, each sharded", () => {
    const plan = planOf(planLogQL('avg by (a) (rate({app="a"}[1m]))', opts));
    expect(plan.legs.map((l) => l(0, 2))).toEqual([
      { query: 'sum by (a) (rate({app="a"}[1m]))', params: { shards: "0_of_2" } },
      { query: 'count by (a) (rate({app="a"}[1m]))', params: { shards: "0_of_2" } },
    ]);
  });

  it.each([
    [
      'quantile_over_time(0.9, {app="a"} | json | unwrap d [1m])',
      "quantile_over_time over streams a pipeline may merge",
    ],
    [
      'quantile_over_time(0.9, {app="a"} | unwrap d [1m]) by (x)',
      "quantile_over_time over streams a pipeline may merge",
    ],
    ['max(count_over_time({app="a"} | drop pod [1m]))', "max of count_over_time over streams a pipeline may merge"],
    ['topk(1, rate({app="a"} | json [1m]))', "topk of rate over streams a pipeline may merge"],
    ['absent_over_time({app="a"}[1m])', "range operation absent_over_time"],
    ['stddev(rate({app="a"}[1m]))', "aggregation stddev"],
    ['sort(rate({app="a"}[1m]))', "aggregation sort"],
    ['sum(rate({app="a"}[1m])) / 2', "binary operation"],
    ['sum(rate({app="a"}[1m])) / sum(rate({app="b"}[1m]))', "binary operation"],
    ['topk(2, sum by (a) (rate({app="a"}[1m])))', "nested aggregation"],
    ["vector(1)", "VectorExpr"],
    ['{app="a"', "not parsed"],
  ])("%s stays whole (%s)", (q, reason) => {
    expect(reasonOf(planLogQL(q, opts))).toBe(reason);
  });

  it("leaves a query with a regex past the limit whole", () => {
    expect(reasonOf(planLogQL(`{app=~"${"a".repeat(5000)}"}`, opts))).toBe("regex longer than 4096 bytes");
  });
});

describe("shard counts", () => {
  const limits = { ...DEFAULT_LIMITS };
  it("is the tenant's count, within max_sharded_queries over the splits", () => {
    expect(shardCount(limits, 1, "mimir")).toBe(16);
    expect(shardCount(limits, 10, "mimir")).toBe(12);
    expect(shardCount(limits, 64, "mimir")).toBe(2);
    expect(shardCount(limits, 65, "mimir")).toBe("splits × shards over max_sharded_queries");
    expect(shardCount({ ...limits, query_sharding_total_shards: 1 }, 1, "mimir")).toBe("sharding off");
  });
  it("is a power of two for Loki", () => {
    expect(shardCount(limits, 10, "loki")).toBe(8);
    expect(shardCount({ ...limits, query_sharding_total_shards: 12 }, 1, "loki")).toBe(8);
  });
});
