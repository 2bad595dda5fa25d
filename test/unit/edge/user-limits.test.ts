import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { DEFAULT_LIMITS, type FrontendConfig, LOKI_MAX_QUERY_LENGTH } from "../../../src/config/schema.js";
import { grantFor } from "../../../src/edge/tenant.js";
import { userLimitsFor } from "../../../src/edge/user-limits.js";
import { limitsFor } from "../../../src/frontend/limits.js";
import { lokiQueryLimits } from "../../../src/http/loki-query-limits.js";
import { humanBytes, queryGuard, selectorsOf } from "../../../src/frontend/pipeline/query-guard.js";
import {
  emptyCacheStats,
  type QueryContext,
  type QueryRequest,
  type QueryResponse,
} from "../../../src/frontend/types.js";
import { identityVerifier, identitySigner } from "../../../src/identity/signed-identity.js";
import { ApiError } from "../../../src/http/errors.js";

/** The ApiError a promise rejects with. */
async function thrownApiError(p: Promise<unknown>): Promise<ApiError> {
  const e = await p.then(
    () => new Error("expected a rejection"),
    (e: unknown) => e,
  );
  if (e instanceof ApiError) return e;
  throw e;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const edgeRules = (rules: unknown[]) =>
  parseConfig({
    edge: {
      issuers: [{ issuer: "https://idp.test", audiences: ["fairgate"] }],
      tenants: { rules },
      actor: { secret: "actor-secret-for-tests" },
    },
  }).edge!.tenants;

const frontendConfig = (limits: unknown, tenant_limits: unknown = {}): FrontendConfig =>
  parseConfig({ frontend: { queriers: [{ url: "http://q:3100" }], limits, tenant_limits } }).frontend!;

describe("user limits at the edge", () => {
  const tenants = edgeRules([
    { claim: "groups", read: ["$value"] },
    { claim: "groups", values: ["interns"], limits: { max_query_length: "24h", max_query_series: 500 } },
    {
      claim: "groups",
      values: ["team-a"],
      read: ["team-a"],
      limits: { max_query_length: "7d", query_timeout: "30s", blocked_queries: [{ types: "metric", reason: "m" }] },
    },
  ]);

  it("a rule without tenants limits every query; a rule with tenants, queries of those", () => {
    const intern = grantFor({ groups: ["interns", "team-b"] }, tenants);
    expect(userLimitsFor(intern, ["team-b"])).toEqual({ max_query_length: DAY, max_query_series: 500 });
    const both = grantFor({ groups: ["interns", "team-a"] }, tenants);
    expect(userLimitsFor(both, ["team-a"])).toEqual({
      max_query_length: DAY, // the strictest of 24h and 7d
      max_query_series: 500,
      query_timeout: 30_000,
      blocked_queries: [{ types: ["metric"], regex: false, reason: "m" }],
    });
    const member = grantFor({ groups: ["team-a", "team-b"] }, tenants);
    expect(userLimitsFor(member, ["team-b"])).toBeUndefined();
    expect(userLimitsFor(member, ["team-a"])?.max_query_length).toBe(7 * DAY);
  });

  it("travel in the signed identity to a frontend in another process", async () => {
    const cfg = { secret: "identity-secret-for-tests-0123456789", ttl: 30_000 };
    const sign = await identitySigner(cfg);
    const verify = await identityVerifier(cfg);
    const limits = { max_query_length: DAY, blocked_queries: [{ pattern: "x", regex: false }] };
    const id = { subject: "s", tenants: ["team-a"], actorPath: "users|abc", scopes: [], limits };
    expect(await verify(await sign(id))).toEqual(id);
    const plain = { ...id, limits: undefined };
    expect((await verify(await sign(plain))).limits).toBeUndefined();
  });
});

describe("limitsFor with a user", () => {
  it("the strictest of tenant and user applies; a looser user limit changes nothing", () => {
    const cfg = frontendConfig(
      { max_query_length: "7d", query_timeout: "60s" },
      { "team-a": { max_query_series: 100 } },
    );
    const l = limitsFor(cfg, ["team-a"], {
      user: { max_query_length: DAY, query_timeout: 300_000, max_query_series: 50 },
    });
    expect(l.max_query_length).toBe(DAY);
    expect(l.query_timeout).toBe(60_000);
    expect(l.max_query_series).toBe(50);
    // without tenants (the admin's defaults) a user limit still only tightens
    expect(limitsFor(cfg, [], { user: { query_timeout: 300_000 } }).query_timeout).toBe(60_000);
  });

  it("blocked queries of tenants and user add up", () => {
    const cfg = frontendConfig(
      {},
      { a: { blocked_queries: [{ pattern: "a" }] }, b: { blocked_queries: [{ pattern: "b" }] } },
    );
    const l = limitsFor(cfg, ["a", "b"], { user: { blocked_queries: [{ pattern: "u", regex: false }] } });
    expect(l.blocked_queries.map((b) => b.pattern)).toEqual(["a", "b", "u"]);
  });

  it("the Loki API defaults to Loki's own max_query_length, 721h; Prometheus to none; configured wins", () => {
    const cfg = frontendConfig({});
    expect(limitsFor(cfg, ["t"], { api: "loki" }).max_query_length).toBe(LOKI_MAX_QUERY_LENGTH);
    expect(limitsFor(cfg, ["t"], { api: "prometheus" }).max_query_length).toBe(0);
    expect(limitsFor(frontendConfig({ max_query_length: 0 }), ["t"], { api: "loki" }).max_query_length).toBe(0);
    expect(
      limitsFor(frontendConfig({}, { t: { max_query_length: "30d" } }), ["t"], { api: "loki" }).max_query_length,
    ).toBe(30 * DAY);
  });
});

describe("X-Loki-Query-Limits", () => {
  it("carries the limits Loki 3.4 reads, under its field names, as Go durations", () => {
    const header = lokiQueryLimits({
      ...DEFAULT_LIMITS,
      max_query_length: 30 * DAY + HOUR,
      max_query_range: 5 * 60_000,
      max_query_lookback: 7 * DAY,
      max_entries_limit_per_query: 50,
      query_timeout: 90_000,
      max_query_bytes_read: 1024,
      required_labels: ["env", "cluster"],
    });
    expect(JSON.parse(header!)).toEqual({
      maxQueryLength: "30d1h",
      maxQueryInterval: "5m",
      maxQueryLookback: "7d",
      maxEntriesLimitPerQuery: 50,
      maxQueryTime: "1m30s",
      maxQueryBytesRead: "1024B",
      requiredLabels: ["env", "cluster"],
    });
    const none = { ...DEFAULT_LIMITS, max_entries_limit_per_query: 0, query_timeout: 0 };
    expect(lokiQueryLimits(none)).toBeUndefined();
  });
});

describe("the query guard", () => {
  const req = (over: Partial<QueryRequest> = {}): QueryRequest => ({
    api: "loki",
    kind: "metric",
    path: "/loki/api/v1/query_range",
    params: {},
    query: 'sum(rate({app="api"}[5m]))',
    startNs: 0n,
    endNs: 0n,
    stepMs: 60_000,
    ...over,
  });
  const ctx = (limits: Partial<typeof DEFAULT_LIMITS>, tags?: string): QueryContext => ({
    identity: { subject: "s", tenants: ["team-a"], actorPath: "users|x", scopes: [] },
    forwardHeaders: new Headers(tags ? { "x-query-tags": tags } : {}),
    signal: new AbortController().signal,
    deadline: Date.now() + 60_000,
    limits: { ...DEFAULT_LIMITS, ...limits },
    stats: { splits: 0, queueWaitMs: 0, querierMs: 0, retries: 0, cache: emptyCacheStats() },
  });
  const ok = (json: unknown = { status: "success", data: { resultType: "matrix", result: [] } }): QueryResponse => ({
    status: 200,
    contentType: "application/json",
    json,
  });

  it("refuses a blocked query with its reason, counts it, and lets others pass", async () => {
    const counted: string[] = [];
    const seen: QueryRequest[] = [];
    const guard = queryGuard({ blocked: (t, r) => counted.push(`${t}:${r}`) })(async (r) => {
      seen.push(r);
      return ok();
    });
    const limits = { blocked_queries: [{ source: "grafana", regex: false, reason: "dashboards are paused" }] };
    const e = await thrownApiError(guard(req(), ctx(limits, "Source=Grafana")));
    expect([e.status, e.message]).toEqual([400, "query blocked by policy: dashboards are paused"]);
    expect(counted).toEqual(["team-a:dashboards are paused"]);
    expect(seen).toHaveLength(0);
    await guard(req(), ctx(limits, "Source=logcli"));
    // metadata is not a query: never blocked
    await guard(
      req({ kind: "metadata", path: "/loki/api/v1/labels", query: undefined }),
      ctx(limits, "Source=grafana"),
    );
    expect(seen).toHaveLength(2);
  });

  it("a limited query (every) runs once per interval", async () => {
    let now = 1_000_000;
    const guard = queryGuard({ now: () => now })(async () => ok());
    const limits = { blocked_queries: [{ pattern: "rate", regex: true, every: 60_000, reason: "heavy" }] };
    await guard(req(), ctx(limits));
    const e = await thrownApiError(guard(req(), ctx(limits)));
    expect(e.message).toBe("query blocked by policy: heavy (allowed once every 60s)");
    now += 60_000;
    await guard(req(), ctx(limits));
  });

  it("max_query_lookback moves the start up on the step grid, and refuses a range wholly before it", async () => {
    const now = 10 * DAY;
    const seen: QueryRequest[] = [];
    const guard = queryGuard({ now: () => now })(async (r) => {
      seen.push(r);
      return ok();
    });
    const ns = (ms: number) => BigInt(ms) * 1_000_000n;
    await guard(req({ startNs: ns(now - 3 * DAY + 30_000), endNs: ns(now) }), ctx({ max_query_lookback: DAY }));
    expect(seen[0]!.startNs).toBe(ns(now - DAY + 30_000));
    const e = await thrownApiError(
      guard(req({ startNs: ns(now - 3 * DAY), endNs: ns(now - 2 * DAY) }), ctx({ max_query_lookback: DAY })),
    );
    expect(e.message).toMatch(/ends before the oldest time you may query \(max_query_lookback: 86400s\)/);
  });

  it("max_query_bytes_read asks index/stats for each selector over the range plus the longest [range]", async () => {
    const asked: QueryRequest[] = [];
    const guard = queryGuard()(async (r) => {
      asked.push(r);
      return r.kind === "stats" ? ok({ streams: 1, chunks: 1, bytes: 3 * 1024 * 1024, entries: 9 }) : ok();
    });
    const query = 'sum(rate({app="api"}[5m])) / sum(rate({app="web"} |= "x" [1h]))';
    const e = await thrownApiError(
      guard(
        req({ query, startNs: 10n ** 18n, endNs: 10n ** 18n + 1n }),
        ctx({ max_query_bytes_read: 4 * 1024 * 1024 }),
      ),
    );
    expect(e.message).toBe(
      "the query would read too many bytes (query: 6.0 MiB, limit: 4.0 MiB); " +
        "consider adding more specific stream selectors or reduce the time range of the query",
    );
    expect(asked.map((r) => [r.path, r.params.query, r.startNs])).toEqual([
      ["/loki/api/v1/index/stats", '{app="api"}', 10n ** 18n - BigInt(HOUR) * 1_000_000n],
      ["/loki/api/v1/index/stats", '{app="web"}', 10n ** 18n - BigInt(HOUR) * 1_000_000n],
    ]);
    asked.length = 0;
    await guard(req({ query }), ctx({ max_query_bytes_read: 8 * 1024 * 1024 }));
    expect(asked.map((r) => r.kind)).toEqual(["stats", "stats", "metric"]);
  });

  it("max_query_range refuses a LogQL query whose longest [range] is longer, in Loki's words", async () => {
    const guard = queryGuard()(async () => ok());
    const q = 'sum(rate({a="b"}[5m])) / sum(count_over_time({a="b"}[90m]))';
    const e = await thrownApiError(guard(req({ query: q }), ctx({ max_query_range: 3_600_000 })));
    expect([e.status, e.message]).toEqual([400, "[interval] value exceeds limit: [1h30m] > [1h]"]);
    expect((await guard(req({ query: q }), ctx({ max_query_range: 90 * 60_000 }))).status).toBe(200);
  });

  it("max_query_series refuses an answer with more series", async () => {
    const three = ok({ status: "success", data: { resultType: "matrix", result: [{}, {}, {}] } });
    const guard = queryGuard()(async () => three);
    expect((await guard(req(), ctx({ max_query_series: 3 }))).status).toBe(200);
    const e = await thrownApiError(guard(req(), ctx({ max_query_series: 2 })));
    expect(e.message).toMatch(/^maximum number of series \(2\) reached for a single query; the answer has 3/);
  });

  it("sends X-Loki-Query-Limits on Loki queries only", async () => {
    const guard = queryGuard()(async () => ok());
    const loki = ctx({ max_query_length: DAY });
    await guard(req(), loki);
    expect(JSON.parse(loki.forwardHeaders.get("x-loki-query-limits")!).maxQueryLength).toBe("1d");
    const prom = ctx({ max_query_length: DAY });
    await guard(req({ api: "prometheus", path: "/api/v1/query_range", query: "up" }), prom);
    expect(prom.forwardHeaders.has("x-loki-query-limits")).toBe(false);
  });

  it("helpers: Loki's byte figures and a query's selectors", () => {
    expect([humanBytes(5), humanBytes(10 * 1024), humanBytes(306_000), humanBytes(5 * 1024 ** 3)]).toEqual([
      "5 B",
      "10 KiB",
      "299 KiB",
      "5.0 GiB",
    ]);
    expect(selectorsOf('{a="b"} |= "x"')).toEqual({ selectors: ['{a="b"}'], rangeMs: 0 });
  });
});
