// Label policies end to end: a real OIDC provider, fairgate (edge and frontend in one process, with
// its results cache), and the real Prometheus and Loki. Prometheus' generated history spans the jobs
// api, worker and legacy (the policy label there is `job`); Loki gets streams of three namespaces
// pushed into its own tenant. For each read route, a restricted user gets exactly what the
// unrestricted query with the policy's matcher gets from the backend itself, and nothing else.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { run, type Running } from "../../src/node/run.js";
import { edgeConfig } from "../support/edge-config.js";
import {
  type History,
  type LogEntry,
  lokiOrSkip,
  pushBatches,
  pushHistory,
  startLoki,
  type TestLoki,
} from "../support/loki.js";
import { startOidcProvider, type TestIdp } from "../support/oidc-provider.js";
import { LOGQL_ATTACKS, PROMQL_ATTACKS } from "../support/policy-corpus.js";
import { startPrometheus, type TestPrometheus } from "../support/prometheus.js";
import WebSocket from "ws";

const ACCOUNTS = {
  alice: { groups: ["api"], tenants: [] },
  bob: { groups: ["worker", "billing"], tenants: [] },
  sre: { groups: ["sre"], tenants: [] },
  mallory: { groups: ['api", job=~".*', ".*"], tenants: [] },
};
const RULES = [
  { claim: "groups", values: ["sre"], read: ["metrics", "logs"] },
  { claim: "groups", read: ["metrics"], labels: ['job="$value"'] },
  { claim: "groups", read: ["logs"], labels: ['namespace="$value"'] },
];
const NAMESPACES = ["api", "worker", "billing"];

type Json = { status: string; data: unknown };
// Answers compared as sets, with each object's keys in one order (the frontend sorts label names).
const canonical = (x: unknown): unknown =>
  Array.isArray(x)
    ? x.map(canonical)
    : x && typeof x === "object"
      ? Object.fromEntries(
          Object.entries(x)
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([k, v]) => [k, canonical(v)]),
        )
      : x;
const sorted = (xs: unknown[]) => xs.map((x) => JSON.stringify(canonical(x))).sort();

async function gateway(idp: TestIdp, querier: string): Promise<Running> {
  const { edge } = edgeConfig(idp, "http://unused.invalid");
  return run(
    parseConfig({
      server: { listen: "127.0.0.1:0" },
      log: { level: "warn" },
      edge: { ...edge, tenants: { rules: RULES }, upstream: {} },
      frontend: { queriers: [{ url: querier }], health_check: { interval: "10s" } },
    }),
    "all",
  );
}

describe("label policies against real Prometheus and Loki", () => {
  const lokiBin = lokiOrSkip("label policies against Loki");
  let idp: TestIdp;
  let prom: TestPrometheus;
  let loki: TestLoki | undefined;
  let promGw: Running;
  let lokiGw: Running | undefined;
  const tokens: Record<string, string> = {};
  const nowNs = BigInt(Date.now()) * 1_000_000n;

  beforeAll(async () => {
    idp = await startOidcProvider({ audience: "fairgate", accounts: ACCOUNTS });
    [prom, loki] = await Promise.all([
      startPrometheus({ days: 1 }),
      lokiBin ? startLoki({ bin: lokiBin, patterns: true }) : undefined,
    ]);
    promGw = await gateway(idp, prom.url);
    if (loki) await fillLoki(loki);
    for (const user of Object.keys(ACCOUNTS)) tokens[user] = (await idp.userTokens(user)).accessToken;
  }, 180_000);
  afterAll(async () => {
    await promGw?.close(100);
    await lokiGw?.close(100);
    await Promise.all([prom?.close(), loki?.close(), idp?.close()]);
  });

  /** Loki's history, and a gateway in front of it. */
  async function fillLoki(loki: TestLoki) {
    lokiGw = await gateway(idp, loki.url);
    const entries: LogEntry[] = [];
    for (const [n, namespace] of NAMESPACES.entries())
      for (const pod of [0, 1])
        for (let i = 0; i < 60; i++)
          entries.push({
            stream: { namespace, pod: `${namespace}-${pod}`, app: "shop" },
            tsNs: nowNs - BigInt(i * 60 + n * 7 + pod) * 1_000_000_000n,
            line: `level=${i % 5 === 0 ? "error" : "info"} namespace=${namespace} msg="request ${i}"`,
          });
    entries.sort((a, b) => (a.tsNs < b.tsNs ? -1 : 1));
    const history = { tenants: ["logs"], entries: { logs: entries } } as unknown as History;
    await pushHistory(loki, history);
  }

  const through = async (gw: Running, user: string, tenant: string, path: string, params: Record<string, string>) => {
    const res = await fetch(`${gw.url}${path}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${tokens[user]}`,
        "x-scope-orgid": tenant,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams(params),
    });
    return { status: res.status, body: (await res.text()) as string };
  };
  const direct = async (base: string, path: string, params: Record<string, string | string[]>, tenant?: string) => {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of [v].flat()) qs.append(k, one);
    const res = await fetch(`${base}${path}?${qs}`, { headers: tenant ? { "x-scope-orgid": tenant } : {} });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Json;
  };
  const data = (b: { status: number; body: string }) => {
    expect(b.status, b.body).toBe(200);
    return (JSON.parse(b.body) as Json).data;
  };

  describe("Prometheus", () => {
    const range = () => ({ start: String(prom.end - 3 * 3600), end: String(prom.end), step: "300" });

    it("query and query_range: exactly the answer of the query with the policy's matcher", async () => {
      for (const [user, job] of [
        ["alice", 'job="api"'],
        ["bob", 'job=~"worker|billing"'],
      ] as const) {
        const q = (m: string) => `sum by (job, code) (rate(http_requests_total${m}[5m]))`;
        const got = data(await through(promGw, user, "metrics", "/api/v1/query_range", { query: q(""), ...range() }));
        const want = (await direct(prom.url, "/api/v1/query_range", { query: q(`{${job}}`), ...range() })).data;
        expect(got).toEqual(want);
        const inst = { query: 'count by (job) ({__name__=~".+"})', time: String(prom.end) };
        const one = data(await through(promGw, user, "metrics", "/api/v1/query", inst)) as { result: unknown[] };
        const wantOne = await direct(prom.url, "/api/v1/query", {
          ...inst,
          query: `count by (job) ({__name__=~".+", ${job}})`,
        });
        expect(sorted(one.result)).toEqual(sorted((wantOne.data as { result: unknown[] }).result));
      }
    });

    it("series, labels and label values are scoped with match[]", async () => {
      const t = { start: String(prom.end - 3600), end: String(prom.end) };
      expect(data(await through(promGw, "alice", "metrics", "/api/v1/label/job/values", t))).toEqual(["api"]);
      expect(data(await through(promGw, "bob", "metrics", "/api/v1/label/job/values", t))).toEqual(["worker"]);
      // legacy stopped reporting halfway through the history: the last hour has api and worker.
      expect(data(await through(promGw, "sre", "metrics", "/api/v1/label/job/values", t))).toEqual(["api", "worker"]);
      const series = data(await through(promGw, "alice", "metrics", "/api/v1/series", { ...t, "match[]": "up" }));
      expect(series).toEqual((await direct(prom.url, "/api/v1/series", { ...t, "match[]": 'up{job="api"}' })).data);
      const labels = data(await through(promGw, "alice", "metrics", "/api/v1/labels", t));
      const all = { ...t, "match[]": '{__name__=~".+", job="api"}' };
      expect(labels).toEqual((await direct(prom.url, "/api/v1/labels", all)).data);
      const instances = data(await through(promGw, "alice", "metrics", "/api/v1/label/instance/values", t));
      expect(instances).toEqual((await direct(prom.url, "/api/v1/label/instance/values", all)).data);
    });

    it.each(PROMQL_ATTACKS)("%s finds nothing outside the policy", async (query) => {
      const r = await through(promGw, "alice", "metrics", "/api/v1/query", { query, time: String(prom.end) });
      if (r.status !== 200) return expect([400, 403, 422]).toContain(r.status);
      const result = (data(r) as { result: unknown }).result;
      for (const s of Array.isArray(result) ? (result as { metric: Record<string, string> }[]) : []) {
        if (s.metric.job !== undefined) expect(s.metric.job).toBe("api");
        if (s.metric.instance !== undefined) expect(s.metric.instance).toMatch(/^api-/);
      }
    });

    it("refuses what cannot be scoped, a claim that tries to widen its selector, and no policy at all", async () => {
      expect((await through(promGw, "alice", "metrics", "/api/v1/metadata", {})).status).toBe(403);
      const wide = await through(promGw, "mallory", "metrics", "/api/v1/label/job/values", {});
      expect(data(wide)).toEqual([]);
      expect((await through(promGw, "alice", "logs-of-others", "/api/v1/query", { query: "up" })).status).toBe(403);
      const bad = await through(promGw, "alice", "metrics", "/api/v1/query", { query: "up{" });
      expect([bad.status, JSON.parse(bad.body).errorType]).toEqual([400, "bad_data"]);
    });
  });

  describe("Loki", () => {
    const range = () => ({ start: String(nowNs - 3n * 3600n * 1_000_000_000n), end: String(nowNs + 60_000_000_000n) });
    const streams = (d: unknown) => (d as { result: { stream: Record<string, string> }[] }).result;

    // A Loki that died under the suite (its reason is printed by startLoki) is started again with the same
    // history, so that one crash of Loki is reported as such, not as every case below failing to connect.
    beforeEach(async () => {
      if (!loki || loki.alive()) return;
      console.error("label policies: Loki is gone (see its output above); starting another with the same history");
      await lokiGw?.close(100);
      await loki.close();
      loki = await startLoki({ bin: lokiBin, patterns: true });
      await fillLoki(loki);
    }, 120_000);

    it("log and metric queries: exactly the answer with the policy's matcher", async () => {
      if (!lokiGw || !loki) return;
      const log = { query: '{app="shop"} |= "error"', limit: "1000", ...range() };
      const got = streams(data(await through(lokiGw, "alice", "logs", "/loki/api/v1/query_range", log)));
      const want = await direct(
        loki.url,
        "/loki/api/v1/query_range",
        { ...log, query: '{app="shop", namespace="api"} |= "error"' },
        "logs",
      );
      expect(got.length).toBeGreaterThan(0);
      expect(sorted(got)).toEqual(sorted(streams(want.data)));
      const metric = { query: 'sum by (namespace) (count_over_time({app="shop"}[10m]))', step: "600", ...range() };
      const m = data(await through(lokiGw, "bob", "logs", "/loki/api/v1/query_range", metric)) as {
        result: { metric: { namespace: string } }[];
      };
      expect(m.result.map((r) => r.metric.namespace).sort()).toEqual(["billing", "worker"]);
    });

    it("labels, values, series, stats, volume and detected labels are scoped with query", async () => {
      if (!lokiGw || !loki) return;
      const t = range();
      expect(data(await through(lokiGw, "alice", "logs", "/loki/api/v1/label/namespace/values", t))).toEqual(["api"]);
      expect(data(await through(lokiGw, "sre", "logs", "/loki/api/v1/label/namespace/values", t))).toEqual(
        NAMESPACES.toSorted(),
      );
      const series = data(
        await through(lokiGw, "alice", "logs", "/loki/api/v1/series", { ...t, "match[]": '{app="shop"}' }),
      );
      const want = await direct(
        loki.url,
        "/loki/api/v1/series",
        { ...t, "match[]": '{app="shop", namespace="api"}' },
        "logs",
      );
      expect(sorted(series as unknown[])).toEqual(sorted(want.data as unknown[]));
      for (const path of ["/loki/api/v1/index/stats", "/loki/api/v1/index/volume", "/loki/api/v1/detected_labels"]) {
        const got = await through(lokiGw, "alice", "logs", path, { ...t, query: '{app="shop"}' });
        const res = await fetch(
          `${loki.url}${path}?${new URLSearchParams({ ...t, query: '{app="shop", namespace="api"}' })}`,
          { headers: { "x-scope-orgid": "logs" } },
        );
        expect(got.status, got.body).toBe(200);
        // Timings in the stats differ from run to run, and detected labels come in any order.
        const answer = (b: { data?: object; detectedLabels?: unknown[] }) =>
          b.data ? { ...b, data: { ...b.data, stats: 0 } } : b.detectedLabels ? sorted(b.detectedLabels) : b;
        expect(canonical(answer(JSON.parse(got.body)))).toEqual(canonical(answer(await res.json())));
      }
    });

    it("patterns, detected fields and a detected field's values: the answer with the policy's matcher", async () => {
      if (!lokiGw || !loki) return;
      const t = { ...range(), query: '{app="shop"}' };
      const own = { ...t, query: '{app="shop", namespace="api"}' };
      // Each answer as a set: patterns, fields and values come in any order.
      const answer = (b: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(b).map(([k, v]) => [k, Array.isArray(v) ? sorted(v) : canonical(v)]));
      // The pattern ingester takes pushed lines in asynchronously: wait until it found patterns.
      for (let tries = 0; ; tries++) {
        const p = (await direct(loki.url, "/loki/api/v1/patterns", own, "logs")).data as unknown[];
        if (p.length > 0) break;
        if (tries > 200) throw new Error("the pattern ingester found no patterns in 20 s");
        await new Promise((r) => setTimeout(r, 100));
      }
      const seen: Record<string, unknown> = {};
      for (const path of [
        "/loki/api/v1/patterns",
        "/loki/api/v1/detected_fields",
        "/loki/api/v1/detected_field/namespace_extracted/values",
        "/loki/api/v1/detected_field/msg/values",
      ]) {
        const got = await through(lokiGw, "alice", "logs", path, t);
        expect(got.status, `${path}: ${got.body}`).toBe(200);
        const want = await direct(loki.url, path, own, "logs");
        const body = JSON.parse(got.body) as Record<string, unknown>;
        expect(answer(body), path).toEqual(answer(want as unknown as Record<string, unknown>));
        seen[path] = body;
      }
      // Not empty answers that agree by accident, and nothing of the other namespaces in them.
      const text = JSON.stringify(seen);
      expect(text).toContain("namespace=api");
      for (const other of ["worker", "billing"]) expect(text).not.toContain(other);
      expect((seen["/loki/api/v1/detected_field/namespace_extracted/values"] as { values: string[] }).values).toEqual([
        "api",
      ]);
      // Without a query, the policy's selector is the query.
      const bare = await through(
        lokiGw,
        "bob",
        "logs",
        "/loki/api/v1/detected_field/namespace_extracted/values",
        range(),
      );
      expect(bare.status, bare.body).toBe(200);
      expect((JSON.parse(bare.body) as { values: string[] }).values.toSorted()).toEqual(["billing", "worker"]);
    });

    it("the live tail over WebSocket carries only the policy's lines", async () => {
      if (!lokiGw || !loki) return;
      const tail = (user: string) => {
        const query = new URLSearchParams({ query: '{app="shop"}', start: String(BigInt(Date.now()) * 1_000_000n) });
        const ws = new WebSocket(`${lokiGw!.url.replace("http", "ws")}/loki/api/v1/tail?${query}`, {
          headers: { authorization: `Bearer ${tokens[user]}`, "x-scope-orgid": "logs" },
        });
        const lines: { namespace?: string; line: string }[] = [];
        const waiters: { want: string; done: () => void }[] = [];
        ws.on("message", (m) => {
          const msg = JSON.parse(m.toString()) as {
            streams?: { stream: Record<string, string>; values: string[][] }[];
          };
          for (const s of msg.streams ?? [])
            for (const [, line] of s.values) lines.push({ namespace: s.stream.namespace, line: line! });
          for (const w of waiters.filter((w) => lines.some((l) => l.line.includes(w.want)))) w.done();
        });
        const opened = new Promise<void>((resolve, reject) => {
          ws.on("open", () => resolve());
          ws.on("error", reject);
          ws.on("unexpected-response", (_req, res) => reject(new Error(`tail refused: ${res.statusCode}`)));
        });
        const received = (want: string) =>
          new Promise<void>((done) => {
            waiters.push({ want, done });
            if (lines.some((l) => l.line.includes(want))) done();
          });
        return { ws, lines, opened, received };
      };
      const alice = tail("alice");
      const sre = tail("sre");
      try {
        await Promise.all([alice.opened, sre.opened]);
        const mark = `tail-${Date.now()}`;
        const push = (namespace: string, what: string) =>
          pushBatches(loki!, [
            {
              tenant: "logs",
              body: JSON.stringify({
                streams: [
                  {
                    stream: { namespace, pod: `${namespace}-0`, app: "shop" },
                    values: [[String(BigInt(Date.now()) * 1_000_000n), `level=info namespace=${namespace} ${what}`]],
                  },
                ],
              }),
            },
          ]);
        await push("worker", `${mark}-worker`);
        await push("api", `${mark}-api`);
        // The unrestricted tail sees both namespaces' new lines, so both reached the tailers.
        await Promise.all([sre.received(`${mark}-worker`), sre.received(`${mark}-api`)]);
        await alice.received(`${mark}-api`);
        // A last api line, pushed after the worker line was delivered: alice's tail is past it.
        await push("api", `${mark}-last`);
        await alice.received(`${mark}-last`);
        expect(alice.lines.length).toBeGreaterThanOrEqual(2);
        for (const l of alice.lines) {
          expect(l.namespace).toBe("api");
          expect(l.line).not.toContain("worker");
        }
      } finally {
        alice.ws.close();
        sre.ws.close();
      }
    });

    it("an asynchronous query answers exactly what the synchronous one does under the policy", async () => {
      if (!lokiGw || !loki) return;
      const q = { query: 'sum by (namespace, pod) (count_over_time({app="shop"} |= "error" [10m]))', step: "600" };
      const params = { ...q, ...range() };
      const submitted = await fetch(`${lokiGw.url}/loki/api/v1/query_range?async=true`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${tokens.bob}`,
          "x-scope-orgid": "logs",
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams(params),
      });
      const ticket = await submitted.text();
      expect(submitted.status, ticket).toBe(202);
      const id = (JSON.parse(ticket) as { data: { id: string } }).data.id;
      let polled: Response;
      for (;;) {
        polled = await fetch(`${lokiGw.url}/fairgate/api/v1/async/${id}`, {
          headers: { authorization: `Bearer ${tokens.bob}`, "x-scope-orgid": "logs" },
        });
        if (polled.status !== 204) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const async = { status: polled.status, body: await polled.text() };
      const result = (d: unknown) => sorted((d as { result: unknown[] }).result);
      const got = result(data(async));
      expect(got).toEqual(result(data(await through(lokiGw, "bob", "logs", "/loki/api/v1/query_range", params))));
      expect(got).not.toEqual(result(data(await through(lokiGw, "sre", "logs", "/loki/api/v1/query_range", params))));
      const namespaces = (data(async) as { result: { metric: { namespace: string } }[] }).result.map(
        (r) => r.metric.namespace,
      );
      expect(new Set(namespaces)).toEqual(new Set(["worker", "billing"]));
      // Someone else cannot collect it.
      const other = await fetch(`${lokiGw.url}/fairgate/api/v1/async/${id}`, {
        headers: { authorization: `Bearer ${tokens.alice}`, "x-scope-orgid": "logs" },
      });
      expect(other.status, await other.text()).toBe(404);
    });

    it.each(LOGQL_ATTACKS)("%s finds nothing outside the policy", async (query) => {
      if (!lokiGw) return;
      const r = await through(lokiGw, "alice", "logs", "/loki/api/v1/query_range", { query, step: "600", ...range() });
      if (r.status !== 200) return expect([400, 403]).toContain(r.status);
      const result = (data(r) as { result: { stream?: Record<string, string>; metric?: Record<string, string> }[] })
        .result;
      for (const s of result) {
        const labels = s.stream ?? s.metric ?? {};
        if (labels.pod !== undefined) expect(labels.pod).toMatch(/^api-/);
      }
    });
  });
});
