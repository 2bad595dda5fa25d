import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, type FrontendConfig, type LimitsOverride } from "../../../src/config/schema.js";
import { limitsFor } from "../../../src/frontend/limits.js";

// limitsFor reads only these two sections of the frontend config.
function config(limits: LimitsOverride = {}, tenant_limits: Record<string, LimitsOverride> = {}): FrontendConfig {
  const used: Pick<FrontendConfig, "limits" | "tenant_limits"> = { limits, tenant_limits };
  return used as FrontendConfig;
}

describe("limitsFor", () => {
  it("a tenant without overrides gets the defaults, then frontend.limits", () => {
    expect(limitsFor(config(), ["team-a"])).toEqual(DEFAULT_LIMITS);
    expect(limitsFor(config({ max_query_length: 86_400_000, max_query_parallelism: 4 }), ["team-a"])).toEqual({
      ...DEFAULT_LIMITS,
      max_query_length: 86_400_000,
      max_query_parallelism: 4,
    });
  });

  it("tenant overrides win over frontend.limits, for that tenant only", () => {
    const cfg = config(
      { max_entries_limit_per_query: 1000 },
      { "team-a": { max_entries_limit_per_query: 50, align_queries_with_step: true } },
    );
    expect(limitsFor(cfg, ["team-a"])).toEqual({
      ...DEFAULT_LIMITS,
      max_entries_limit_per_query: 50,
      align_queries_with_step: true,
    });
    expect(limitsFor(cfg, ["team-b"])).toEqual({ ...DEFAULT_LIMITS, max_entries_limit_per_query: 1000 });
    // a tenant's override may loosen frontend.limits
    expect(
      limitsFor(config({ max_query_parallelism: 2 }, { big: { max_query_parallelism: 32 } }), ["big"])
        .max_query_parallelism,
    ).toBe(32);
  });

  it("several tenants: each limit is the strictest, the smallest positive; 0 (unlimited) loses", () => {
    const cfg = config(
      { max_query_length: 7 * 86_400_000 },
      {
        a: { max_query_length: 3_600_000, max_entries_limit_per_query: 100, query_timeout: 60_000 },
        b: {
          max_query_length: 0,
          max_entries_limit_per_query: 5000,
          max_points_per_series: 500,
          split_log_queries_by_interval: 0,
        },
        c: {
          max_query_length: 7_200_000,
          max_query_parallelism: 2,
          max_splits_per_query: 8,
          split_log_queries_by_interval: 1_800_000,
        },
      },
    );
    const want = {
      ...DEFAULT_LIMITS,
      max_query_length: 3_600_000,
      max_entries_limit_per_query: 100,
      max_points_per_series: 500,
      query_timeout: 60_000,
      max_query_parallelism: 2,
      max_splits_per_query: 8,
      split_log_queries_by_interval: 1_800_000,
    };
    expect(limitsFor(cfg, ["a", "b", "c"])).toEqual(want);
    expect(limitsFor(cfg, ["c", "b", "a"])).toEqual(want);
    // unlimited everywhere stays unlimited
    expect(
      limitsFor(config({}, { x: { max_query_length: 0 }, y: { max_query_length: 0 } }), ["x", "y"]).max_query_length,
    ).toBe(0);
    // one tenant unlimited, the other bounded: bounded
    expect(
      limitsFor(config({}, { x: { max_query_length: 0 }, y: { max_query_length: 60_000 } }), ["x", "y"])
        .max_query_length,
    ).toBe(60_000);
  });

  it("several tenants: step alignment only when every tenant has it", () => {
    const cfg = config({}, { a: { align_queries_with_step: true }, b: { align_queries_with_step: true }, c: {} });
    expect(limitsFor(cfg, ["a", "b"]).align_queries_with_step).toBe(true);
    expect(limitsFor(cfg, ["a", "c"]).align_queries_with_step).toBe(false);
  });

  it("no tenants: the defaults and frontend.limits; nothing shared is mutated", () => {
    const before = structuredClone(DEFAULT_LIMITS);
    const cfg = config({ max_query_parallelism: 3 }, { a: { max_query_parallelism: 1 } });
    expect(limitsFor(cfg, [])).toEqual({ ...DEFAULT_LIMITS, max_query_parallelism: 3 });
    const l = limitsFor(cfg, ["a", "b"]);
    l.max_query_parallelism = 99;
    limitsFor(cfg, ["a"]).max_query_parallelism = 99;
    expect(DEFAULT_LIMITS).toEqual(before);
    expect(cfg.limits).toEqual({ max_query_parallelism: 3 });
    expect(cfg.tenant_limits).toEqual({ a: { max_query_parallelism: 1 } });
    expect(limitsFor(cfg, ["a", "b"]).max_query_parallelism).toBe(1);
  });
});
