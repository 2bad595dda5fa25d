import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import type { BlockedQuery } from "../../../src/config/schema.js";
import { blockedRequest, firstMatch, matches, querySource, queryType } from "../../../src/frontend/blocked.js";
import { queryHash } from "../../../src/frontend/query-stats.js";

const rule = (r: Partial<BlockedQuery>): BlockedQuery => ({ regex: false, ...r });
const loki = (query: string, tags: string | null = null) => ({ api: "loki" as const, query, tags });

describe("blocked queries: matchers", () => {
  it("types as Loki names them: metric, filter (a line or label filter), limited (neither)", () => {
    expect(queryType("loki", 'sum(rate({env="prod"}[1m]))')).toBe("metric");
    expect(queryType("loki", "vector(1)")).toBe("metric");
    expect(queryType("loki", '{env="prod"} |= "error"')).toBe("filter");
    expect(queryType("loki", '{env="prod"} | json | level="error"')).toBe("filter");
    expect(queryType("loki", '{env="prod"}')).toBe("limited");
    expect(queryType("loki", '{env="prod"} | logfmt')).toBe("limited");
    expect(queryType("prometheus", "up")).toBe("metric");
  });

  it("hashes as Loki's query log does (its documented example)", () => {
    expect(queryHash('{stream="stdout",pod="loki-canary-9w49x"}')).toBe(2943214005);
    expect(queryHash('{stream="stdout",pod="loki-canary-9w49y"}')).not.toBe(2943214005);
  });

  it("reads the source of X-Query-Tags, whatever its case", () => {
    expect(querySource("Source=Grafana,Feature=beta")).toBe("grafana");
    expect(querySource("feature=beta, source = logcli")).toBe("logcli");
    expect(querySource("feature=beta")).toBeUndefined();
    expect(querySource(null)).toBeUndefined();
  });

  it("an exact pattern matches the trimmed text only; a regex matches anywhere in it", () => {
    const exact = rule({ pattern: 'sum(rate({env="prod"}[1m]))' });
    expect(matches(exact, loki(' sum(rate({env="prod"}[1m])) '))).toBe(true);
    expect(matches(exact, loki('sum(rate({env="prod"}[5m]))'))).toBe(false);
    const re = rule({ pattern: 'env="prod"', regex: true });
    expect(matches(re, loki('count_over_time({env="prod"}[1h])'))).toBe(true);
    expect(matches(re, loki('{env="staging"}'))).toBe(false);
  });

  it("every part given must match: pattern, hash, types and source together", () => {
    const r = rule({ pattern: "prod", regex: true, types: ["filter", "limited"], source: "grafana" });
    expect(matches(r, loki('{env="prod"} |= "x"', "Source=grafana"))).toBe(true);
    expect(matches(r, loki('{env="prod"} |= "x"', "Source=logcli"))).toBe(false);
    expect(matches(r, loki('rate({env="prod"}[1m])', "Source=grafana"))).toBe(false);
    expect(matches(rule({ types: ["metric"] }), loki('rate({a="b"}[1m])'))).toBe(true);
    expect(matches(rule({ types: ["metric"] }), loki('{a="b"}'))).toBe(false);
    const byHash = rule({ hash: 2943214005 });
    expect(matches(byHash, loki('{stream="stdout",pod="loki-canary-9w49x"}'))).toBe(true);
    expect(matches(byHash, loki('{stream="stdout"}'))).toBe(false);
  });

  it("the first matching rule is the one reported", () => {
    const rules = [
      rule({ types: ["metric"], reason: "no metrics" }),
      rule({ pattern: ".*", regex: true, reason: "all" }),
    ];
    expect(firstMatch(rules, loki('rate({a="b"}[1m])'))?.reason).toBe("no metrics");
    expect(firstMatch(rules, loki('{a="b"}'))?.reason).toBe("all");
    expect(firstMatch([], loki('{a="b"}'))).toBeUndefined();
  });

  it("the configuration refuses a rule that matches nothing in particular, a bad regex or an unknown type", () => {
    const frontend = (blocked: unknown[]) => ({
      frontend: { queriers: [{ url: "http://q:3100" }], limits: { blocked_queries: blocked } },
    });
    const problems = (blocked: unknown[]) => {
      try {
        parseConfig(frontend(blocked));
        return [];
      } catch (e) {
        return (e as { problems: string[] }).problems;
      }
    };
    expect(problems([{ reason: "why" }]).join()).toMatch(/give pattern, hash, types or source/);
    expect(problems([{ pattern: "(", regex: true }]).join()).toMatch(/pattern: not a regex/);
    expect(problems([{ types: "metric,logs" }]).join()).toMatch(/use metric, filter or limited/);
    const ok = parseConfig(frontend([{ types: "filter, limited", every: "10m", reason: "r" }]));
    expect(ok.frontend!.limits.blocked_queries).toEqual([
      { types: ["filter", "limited"], regex: false, every: 600_000, reason: "r" },
    ]);
  });

  it("blocked requests match path, method and each named parameter (any value; a regex matches it whole)", () => {
    const config = parseConfig({
      frontend: {
        queriers: [{ url: "http://q:3100" }],
        limits: {
          blocked_requests: [
            { path: "/api/v1/series", method: "get", query_params: { "match[]": { value: "up.*", is_regexp: true } } },
            { path: "/api/v1/labels", reason: "no label listing" },
          ],
        },
      },
    });
    const rules = config.frontend!.limits.blocked_requests!;
    const series = (params: Record<string, string | string[]>, method = "GET") =>
      blockedRequest(rules, { path: "/api/v1/series", method, params });
    expect(series({ "match[]": ["queue_depth", "up"] })).toBe(rules[0]);
    expect(series({ "match[]": "queue_depth_up" })).toBeUndefined(); // the regex matches whole values
    expect(series({ "match[]": "up" }, "POST")).toBeUndefined();
    expect(series({})).toBeUndefined();
    expect(blockedRequest(rules, { path: "/api/v1/labels", method: "POST", params: {} })?.reason).toBe(
      "no label listing",
    );
    expect(() =>
      parseConfig({ frontend: { queriers: [{ url: "http://q:3100" }], limits: { blocked_requests: [{}] } } }),
    ).toThrow(/give path, method or query_params/);
  });
});
