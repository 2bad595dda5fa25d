// Limits per user and blocked queries end to end: a real OIDC provider, fairgate (edge and frontend in one
// process), a real Loki (with per-request limits on) and a real Prometheus. Tenant limits come from
// frontend.tenant_limits, user limits from the tenant rules' `limits`, matched on the token's groups.
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { humanBytes } from "../../src/frontend/pipeline/query-guard.js";
import { run, type Running } from "../../src/node/run.js";
import { edgeConfig } from "../support/edge-config.js";
import { generateHistory, lokiOrSkip, pushHistory, startLoki, type TestLoki } from "../support/loki.js";
import { startOidcProvider, type TestIdp } from "../support/oidc-provider.js";
import { ALL_INSTANCES, startPrometheus, type TestPrometheus } from "../support/prometheus.js";
import WebSocket from "ws";

const ACCOUNTS = {
  alice: { groups: ["team"], tenants: [] },
  ivy: { groups: ["team", "interns"], tenants: [] },
  bea: { groups: ["team", "budget"], tenants: [] },
  rex: { groups: ["team", "strict"], tenants: [] },
};
const RULES = [
  { claim: "groups", values: ["team"], read: ["logs", "archive", "metrics"] },
  {
    claim: "groups",
    values: ["interns"],
    limits: {
      max_query_length: "2h",
      max_query_range: "1h",
      max_query_series: 3,
      blocked_queries: [{ types: "filter", reason: "interns may not grep" }],
    },
  },
  { claim: "groups", values: ["budget"], limits: { max_query_bytes_read: "10KiB" } },
  // Checked by Loki alone: fairgate passes it on in X-Loki-Query-Limits.
  { claim: "groups", values: ["strict"], limits: { required_labels: ["env"] } },
];
const TENANT_LIMITS = {
  logs: { max_query_length: "12h", blocked_queries: [{ source: "grafana", reason: "dashboards are paused" }] },
  metrics: {
    blocked_queries: [{ pattern: "count\\(", regex: true, reason: "no counting" }],
    blocked_requests: [
      { path: "/api/v1/series", query_params: { "match[]": { value: "up.*", is_regexp: true } }, reason: "no up" },
    ],
  },
};

type LogLine = Record<string, unknown>;

async function gateway(idp: TestIdp, querier: string, lines: LogLine[]): Promise<Running> {
  const { edge } = edgeConfig(idp, "http://unused.invalid");
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return run(
    parseConfig({
      server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" },
      log: { level: "info" },
      edge: { ...edge, tenants: { rules: RULES }, upstream: {} },
      frontend: {
        queriers: [{ url: querier }],
        health_check: { interval: "200ms", timeout: "1s", unhealthy_after: 1 },
        tenant_limits: TENANT_LIMITS,
        cache: { results: { enabled: false } },
      },
    }),
    "all",
    { logDestination: sink },
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("limits per user and blocked queries against a real Loki", () => {
  const lokiBin = lokiOrSkip("limits per user and blocked queries against Loki");
  let idp: TestIdp;
  let loki: TestLoki;
  let gw: Running;
  const lines: LogLine[] = [];
  const tokens: Record<string, string> = {};
  const nowMs = Date.now();
  const ns = (ms: number) => `${BigInt(ms) * 1_000_000n}`;

  const ask = async (user: string, path: string, params: Record<string, string>, headers = {}, via?: string) => {
    const res = await fetch(`${via ?? gw.url}/loki/api/v1/${path}?${new URLSearchParams(params)}`, {
      headers: { authorization: `Bearer ${tokens[user]}`, "x-scope-orgid": params.tenant ?? "logs", ...headers },
    });
    return { status: res.status, text: await res.text() };
  };
  const range = (hours: number) => ({ start: ns(nowMs - hours * 3_600_000), end: ns(nowMs) });

  beforeAll(async () => {
    if (!lokiBin) return;
    [idp, loki] = await Promise.all([
      startOidcProvider({ audience: "fairgate", accounts: ACCOUNTS }),
      startLoki({ bin: lokiBin, perRequestLimits: true }),
    ]);
    await pushHistory(loki, generateHistory({ days: 1, tenants: ["logs", "archive"] }));
    // index/stats counts flushed chunks: flush them, and wait until Loki's index says so.
    await fetch(`${loki.url}/flush`, { method: "POST" });
    for (let i = 0; i < 100; i++) {
      const q = new URLSearchParams({ query: '{app="api"}', ...range(24) });
      const res = await fetch(`${loki.url}/loki/api/v1/index/stats?${q}`, { headers: { "x-scope-orgid": "logs" } });
      if (((await res.json()) as { bytes: number }).bytes > 0) break;
      await sleep(200);
    }
    gw = await gateway(idp, loki.url, lines);
    for (const user of Object.keys(ACCOUNTS)) tokens[user] = (await idp.userTokens(user)).accessToken;
  }, 180_000);
  afterAll(async () => {
    await gw?.close(100);
    await Promise.all([loki?.close(), idp?.close()]);
  });

  it.skipIf(!lokiBin)("a query a tenant blocks gets the rule's reason, is counted, and logged with it", async () => {
    const query = { query: 'sum(count_over_time({app="api"}[5m]))', step: "300", ...range(1) };
    const grafana = { "x-query-tags": "Source=Grafana,Feature=explore" };
    expect(await ask("alice", "query_range", query, grafana)).toEqual({
      status: 400,
      text: "query blocked by policy: dashboards are paused",
    });
    expect((await ask("alice", "query_range", query, { "x-query-tags": "Source=logcli" })).status).toBe(200);
    expect((await ask("alice", "query_range", { ...query, tenant: "archive" }, grafana)).status).toBe(200);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(metrics).toContain('fairgate_blocked_queries_total{tenant="logs",reason="dashboards are paused"} 1');
    await expect
      .poll(() => lines.find((l) => l.status === 400 && l.route === "loki:query_range"))
      .toMatchObject({ msg: "request", tenant: "logs", reason: "query blocked by policy: dashboards are paused" });
  });

  it.skipIf(!lokiBin)("a 400 the edge decides logs its reason too", async () => {
    const bad = await ask("alice", "labels", { tenant: "no spaces allowed" });
    expect(bad.status).toBe(400);
    await expect
      .poll(() => lines.find((l) => l.status === 400 && l.route === "loki:labels"))
      .toMatchObject({ msg: "request", reason: bad.text });
  });

  it.skipIf(!lokiBin)("a user group's blocked type applies to its members only, and never to the tail", async () => {
    const grep = { query: '{app="api"} |= "error"', limit: "10", ...range(1) };
    expect(await ask("ivy", "query_range", grep)).toEqual({
      status: 400,
      text: "query blocked by policy: interns may not grep",
    });
    expect((await ask("alice", "query_range", grep)).status).toBe(200);
    // the same filter query, live: the tail is not a query that limits apply to
    const url = `${gw.url.replace("http", "ws")}/loki/api/v1/tail?${new URLSearchParams({ query: grep.query })}`;
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${tokens.ivy}`, "x-scope-orgid": "logs" } });
    const opened = await new Promise<string>((resolve) => {
      ws.on("open", () => resolve("open"));
      ws.on("unexpected-response", (_req, res) => resolve(`refused with ${res.statusCode}`));
      ws.on("error", (e) => resolve(`error ${e.message}`));
    });
    ws.terminate();
    expect(opened).toBe("open");
  });

  it.skipIf(!lokiBin)("a user's limit stricter than the tenant's applies to that user", async () => {
    const six = { query: '{app="api"}', limit: "5", ...range(6) };
    expect((await ask("alice", "query_range", six)).status).toBe(200);
    expect(await ask("ivy", "query_range", six)).toEqual({
      status: 400,
      text: "the query time range exceeds the limit (query length: 6h, limit: 2h); try a smaller time range",
    });
    expect((await ask("alice", "query_range", { ...six, ...range(24) })).text).toMatch(/limit: 12h\)/);
    // fairgate checks max_query_range itself (Loki 3.4.6 ignores it in the header), in Loki's words
    const wide = { query: 'sum(count_over_time({app="api"}[2h]))', step: "60", ...range(1) };
    expect((await ask("alice", "query_range", wide)).status).toBe(200);
    expect(await ask("ivy", "query_range", wide)).toEqual({
      status: 400,
      text: "[interval] value exceeds limit: [2h] > [1h]",
    });
  });

  it.skipIf(!lokiBin)("the Loki API refuses a 10-year range at Loki's own 721h, before running anything", async () => {
    const decade = { query: 'sum(count_over_time({app="api"}[1h]))', step: "86400", ...range(10 * 8766) };
    const res = await ask("alice", "query_range", { ...decade, tenant: "archive" });
    expect(res).toEqual({
      status: 400,
      text: "the query time range exceeds the limit (query length: 87660h, limit: 721h); try a smaller time range",
    });
  });

  it.skipIf(!lokiBin)("max_query_bytes_read asks index/stats first and refuses with the figure", async () => {
    const day = { query: 'sum(rate({app=~"api|web"}[5m]))', step: "3600", ...range(10) };
    const res = await ask("bea", "query_range", day);
    // The figure is Loki's own estimate: index/stats of the selector over the query's range on its step grid,
    // from its [5m] earlier, in fairgate's day pieces (split_metadata_queries_by_interval).
    const HOUR = 3_600_000;
    const from = Math.floor((nowMs - 10 * HOUR) / HOUR) * HOUR - 300_000;
    const to = Math.ceil(nowMs / HOUR) * HOUR;
    const midnight = Math.floor(to / 86_400_000) * 86_400_000;
    const pieces =
      from < midnight && midnight < to
        ? [
            [from, midnight],
            [midnight, to],
          ]
        : [[from, to]];
    let bytes = 0;
    for (const [start, end] of pieces) {
      const q = new URLSearchParams({ query: '{app=~"api|web"}', start: ns(start!), end: ns(end!) });
      const direct = await fetch(`${loki.url}/loki/api/v1/index/stats?${q}`, { headers: { "x-scope-orgid": "logs" } });
      bytes += ((await direct.json()) as { bytes: number }).bytes;
    }
    expect(bytes).toBeGreaterThan(10 * 1024);
    expect(res).toEqual({
      status: 400,
      text:
        `the query would read too many bytes (query: ${humanBytes(bytes)}, limit: 10 KiB); ` +
        "consider adding more specific stream selectors or reduce the time range of the query",
    });
    expect((await ask("alice", "query_range", day)).status).toBe(200);
  });

  it.skipIf(!lokiBin)("X-Loki-Query-Limits reaches Loki, and Loki enforces what fairgate leaves to it", async () => {
    const noEnv = await ask("rex", "query_range", { query: '{app="api"}', limit: "5", ...range(1) });
    expect(noEnv).toEqual({
      status: 400,
      text: "stream selector is missing required matchers [env], labels present in the query were [app]",
    });
    expect(
      (await ask("rex", "query_range", { query: '{app="api", env="prod"}', limit: "5", ...range(1) })).status,
    ).toBe(200);
    expect((await ask("alice", "query_range", { query: '{app="api"}', limit: "5", ...range(1) })).status).toBe(200);
  });

  it.skipIf(!lokiBin)("what Loki 3.4.6 itself does with X-Loki-Query-Limits (why fairgate checks bytes)", async () => {
    const direct = async (params: Record<string, string>, limits: object) => {
      const res = await fetch(`${loki.url}/loki/api/v1/query_range?${new URLSearchParams(params)}`, {
        headers: { "x-scope-orgid": "logs", "x-loki-query-limits": JSON.stringify(limits) },
      });
      return { status: res.status, text: await res.text() };
    };
    const metric = { query: 'sum(count_over_time({app="api"}[2h]))', step: "3600", ...range(6) };
    expect(await direct(metric, { maxQueryLength: "1h" })).toEqual({
      status: 400,
      text: "the query time range exceeds the limit (query length: 6h0m0s, limit: 1h)",
    });
    // a looser one changes nothing: Loki's own 721h still applies
    expect((await direct({ ...metric, ...range(800) }, { maxQueryLength: "1000h" })).text).toMatch(/limit: 30d1h\)$/);
    // ignored by this version: the [2h] range, the bytes this query reads (index/stats says more than 1 KiB)
    expect((await direct(metric, { maxQueryInterval: "1h" })).status).toBe(200);
    const stats = new URLSearchParams({ query: '{app="api"}', start: metric.start, end: metric.end });
    const read = await fetch(`${loki.url}/loki/api/v1/index/stats?${stats}`, { headers: { "x-scope-orgid": "logs" } });
    expect(((await read.json()) as { bytes: number }).bytes).toBeGreaterThan(1024);
    expect((await direct(metric, { maxQueryBytesRead: "1KB" })).status).toBe(200);
  });

  /** `fairgate edge` alone, with the same rules, reading from `readUrl`; identity signed for a frontend. */
  const edgeAlone = (readUrl: string) => {
    const { edge, identity } = edgeConfig(idp, readUrl);
    const config = { server: { listen: "127.0.0.1:0" }, log: { level: "warn" }, identity };
    return run(
      parseConfig({ ...config, edge: { ...edge, tenants: { rules: RULES }, upstream: { read_url: readUrl } } }),
      "edge",
    );
  };
  const six = { query: '{app="api"}', limit: "5", ...range(6) };

  it.skipIf(!lokiBin)("edge and frontend apart: the user's limits travel in the signed identity", async () => {
    const { identity } = edgeConfig(idp, loki.url);
    const frontend = await run(
      parseConfig({
        server: { listen: "127.0.0.1:0" },
        log: { level: "warn" },
        identity,
        frontend: { queriers: [{ url: loki.url }], tenant_limits: TENANT_LIMITS },
      }),
      "frontend",
    );
    const alone = await edgeAlone(frontend.url);
    try {
      expect((await ask("alice", "query_range", six, {}, alone.url)).status).toBe(200);
      expect(await ask("ivy", "query_range", six, {}, alone.url)).toEqual({
        status: 400,
        text: "the query time range exceeds the limit (query length: 6h, limit: 2h); try a smaller time range",
      });
      const grep = { query: '{app="api"} |= "error"', limit: "5", ...range(1) };
      expect(await ask("ivy", "query_range", grep, {}, alone.url)).toEqual({
        status: 400,
        text: "query blocked by policy: interns may not grep",
      });
    } finally {
      await alone.close(100);
      await frontend.close(100);
    }
  });

  it.skipIf(!lokiBin)("the edge alone in front of Loki sends the user's limits in X-Loki-Query-Limits", async () => {
    const alone = await edgeAlone(loki.url);
    try {
      const hour = { query: '{app="api"}', limit: "5", ...range(1) };
      expect(await ask("rex", "query_range", hour, {}, alone.url)).toEqual({
        status: 400,
        text: "stream selector is missing required matchers [env], labels present in the query were [app]",
      });
      expect((await ask("alice", "query_range", hour, {}, alone.url)).status).toBe(200);
      // an intern's 6 hours: Loki itself refuses them at the interns' 2h
      expect(await ask("ivy", "query_range", six, {}, alone.url)).toEqual({
        status: 400,
        text: "the query time range exceeds the limit (query length: 6h0m0s, limit: 2h)",
      });
    } finally {
      await alone.close(100);
    }
  });
});

describe("limits and readiness against a real Prometheus", () => {
  let idp: TestIdp;
  let prom: TestPrometheus;
  let gw: Running;
  const lines: LogLine[] = [];
  const tokens: Record<string, string> = {};

  const ask = async (user: string, query: string) => {
    const q = new URLSearchParams({ query, time: String(prom.end) });
    const res = await fetch(`${gw.url}/api/v1/query?${q}`, {
      headers: { authorization: `Bearer ${tokens[user]}`, "x-scope-orgid": "metrics" },
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    [idp, prom] = await Promise.all([
      startOidcProvider({ audience: "fairgate", accounts: ACCOUNTS }),
      startPrometheus({ days: 1 }),
    ]);
    gw = await gateway(idp, prom.url, lines);
    for (const user of ["alice", "ivy"]) tokens[user] = (await idp.userTokens(user)).accessToken;
  }, 180_000);
  afterAll(async () => {
    await gw?.close(100);
    await Promise.all([prom?.close(), idp?.close()]);
  });

  it("a blocked query gets its reason in Prometheus' error format", async () => {
    expect(await ask("alice", "count(up)")).toEqual({
      status: 400,
      json: { status: "error", errorType: "bad_data", error: "query blocked by policy: no counting" },
    });
    expect((await ask("alice", "sum(up)")).status).toBe(200);
  });

  it("a blocked request (path and parameter) gets its reason", async () => {
    const series = async (match: string) => {
      const q = new URLSearchParams({ "match[]": match, start: String(prom.end - 600), end: String(prom.end) });
      const res = await fetch(`${gw.url}/api/v1/series?${q}`, {
        headers: { authorization: `Bearer ${tokens.alice}`, "x-scope-orgid": "metrics" },
      });
      return { status: res.status, json: await res.json() };
    };
    expect(await series("up")).toEqual({
      status: 400,
      json: { status: "error", errorType: "bad_data", error: "request blocked by policy: no up" },
    });
    expect((await series("queue_depth")).status).toBe(200);
  });

  it("a user's max_query_series refuses an answer with more series; the tenant's has no such limit", async () => {
    const all = await ask("alice", "up");
    const n = ((all.json.data as { result: unknown[] }).result ?? []).length;
    expect(n).toBe(ALL_INSTANCES.length); // up of every instance: 6
    expect(await ask("ivy", "up")).toEqual({
      status: 400,
      json: {
        status: "error",
        errorType: "bad_data",
        error: `maximum number of series (3) reached for a single query; the answer has ${n}: consider adding filters or aggregating`,
      },
    });
  });

  it("/ready is 503 with the reason while the only querier is down, and 200 again once it is back", async () => {
    const ready = async () => {
      const res = await fetch(`${gw.url}/ready`);
      return { status: res.status, text: await res.text() };
    };
    expect((await ready()).status).toBe(200);
    await prom.kill();
    let down = await ready();
    for (let i = 0; i < 100 && down.status === 200; i++) down = await sleep(100).then(ready);
    expect(down.status).toBe(503);
    expect(down.text).toContain(`no healthy querier: ${prom.url}`);
    expect((await ask("alice", "sum(up)")).status).toBe(503);
    await prom.restart();
    let up = await ready();
    for (let i = 0; i < 100 && up.status !== 200; i++) up = await sleep(100).then(ready);
    expect(up).toEqual({ status: 200, text: "ready\n" });
    expect((await ask("alice", "sum(up)")).status).toBe(200);
    const said = lines.map((l) => String(l.msg));
    expect(said.some((m) => m.startsWith(`querier ${prom.url} is unhealthy: `))).toBe(true);
    expect(said).toContain(`querier ${prom.url} is healthy again`);
  }, 120_000);
});
