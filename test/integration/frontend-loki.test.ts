import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend } from "../../src/frontend/app.js";
import type { Identity } from "../../src/identity/signed-identity.js";
import { loadFixture, startFixtureQuerier, type FixtureQuerier } from "../support/fixture-querier.js";

const identity = (tenant = "team-a", actor = "users|0123456789abcdef0123456789abcdef"): Identity => ({
  subject: "s",
  tenants: [tenant],
  actorPath: actor,
  scopes: [],
});

const fx0 = loadFixture;
const NO_CACHE = { results: { enabled: false }, metadata: { enabled: false }, empty_logs: { enabled: false } };
type Result = {
  status: string;
  data: {
    resultType: string;
    result: { stream?: Record<string, string>; metric?: Record<string, string>; values: unknown[] }[];
    stats?: { summary: { splits: number } };
  };
};

describe("frontend against a Loki querier serving real Loki responses", () => {
  let querier: FixtureQuerier;
  let frontend: Frontend;
  const ask = async (
    name: string,
    over: {
      tenant?: string;
      headers?: Record<string, string>;
      signal?: AbortSignal;
      params?: Record<string, string>;
      via?: Frontend;
    } = {},
  ) => {
    const fx = loadFixture(name);
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...fx.request.params, ...over.params }))
      for (const one of Array.isArray(v) ? v : [v]) qs.append(k, one);
    const res = await (over.via ?? frontend).app.fetch(
      new Request(`http://frontend${fx.request.path}?${qs}`, { headers: over.headers, signal: over.signal }),
      { identity: identity(over.tenant) },
    );
    return { res, fx };
  };

  beforeAll(async () => {
    querier = await startFixtureQuerier();
    const day = "24h";
    frontend = createFrontend(
      parseConfig({
        frontend: {
          queriers: [{ url: querier.url, max_concurrent: 4 }],
          health_check: { interval: "100ms", timeout: "1s", unhealthy_after: 1 },
          limits: {
            split_metric_queries_by_interval: day,
            split_log_queries_by_interval: day,
            split_metadata_queries_by_interval: day,
          },
          tenant_limits: { "team-slow": { query_timeout: "300ms" } },
          // Dispatch and merging are under test here; the results cache has tests of its own.
          cache: NO_CACHE,
        },
      }).frontend!,
    );
  });
  afterAll(async () => {
    frontend?.close();
    await querier?.close();
  });
  beforeEach(() => {
    querier.requests.length = 0;
    querier.aborted.length = 0;
    querier.delay = 0;
    querier.failNext(0, 500);
  });

  // Metric queries are compared with a real Loki in loki-conformance.test.ts: fairgate asks each
  // piece from one step earlier than these recordings (see pipeline/lead-step.ts).

  it.each(["backward", "forward"])(
    "merges a %s log query's day splits into exactly the unsplit answer",
    async (direction) => {
      const { res, fx } = await ask(`log_2d_${direction}_full`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as Result).data.result).toEqual((fx.response as Result).data.result);
      const splits = [0, 1, 2].map((i) => loadFixture(`log_2d_${direction}_split_${i}`).request.params.start);
      expect(querier.requests.length).toBeGreaterThanOrEqual(2);
      for (const r of querier.requests) expect(splits).toContain(r.params.start);
      expect(
        querier.requests.every(
          (r) => r.headers["x-scope-orgid"] === "team-a" && r.headers["x-loki-actor-path"] === identity().actorPath,
        ),
      ).toBe(true);
      expect(querier.requests.every((r) => typeof r.headers["x-query-queue-time"] === "string")).toBe(true);
    },
  );

  it.each([
    ["backward", { web: 24, api: 26 }],
    ["forward", { api: 32, web: 18 }],
  ])("returns the strict top-limit merge of a %s two-stream log query", async (direction, counts) => {
    const { res } = await ask(`log_2d_multistream_${direction}_full`);
    const body = (await res.json()) as Result;
    expect(Object.fromEntries(body.data.result.map((s) => [s.stream!.app, s.values.length]))).toEqual(counts);
    const ts = body.data.result.flatMap((s) => (s.values as [string][]).map((v) => BigInt(v[0])));
    expect(ts).toHaveLength(50);
  });

  it("walks log splits newest first and never sends the ones the limit makes useless", async () => {
    const sequential = createFrontend(
      parseConfig({
        frontend: {
          queriers: [{ url: querier.url }],
          limits: { split_log_queries_by_interval: "24h", max_query_parallelism: 1 },
          cache: NO_CACHE,
        },
      }).frontend!,
    );
    const { res, fx } = await ask("log_2d_backward_full", { via: sequential });
    sequential.close();
    expect(((await res.json()) as Result).data.result).toEqual((fx.response as Result).data.result);
    // 14 entries in the newest day, 39 in the one before: 53 ≥ 50, so the oldest split is never asked.
    expect(querier.requests.map((r) => r.params.start)).toEqual([
      loadFixture("log_2d_backward_split_2").request.params.start,
      loadFixture("log_2d_backward_split_1").request.params.start,
    ]);
  });

  it.each([
    "labels",
    "label_app_values",
    "series_app_api",
    "index_stats",
    "index_volume",
    "index_volume_by_app",
    "instant_metric_vector",
    "empty_tenant_logs",
  ])("answers %s as Loki does", async (name) => {
    const { res, fx } = await ask(name, { tenant: fx0(name).request.headers["X-Scope-OrgID"] });
    expect(res.status).toBe(fx.status);
    const body = (await res.json()) as Record<string, unknown>;
    if (name.startsWith("series"))
      expect(body).toEqual({
        status: "success",
        data: [...(fx.response as { data: Record<string, string>[] }).data].sort((a, b) =>
          JSON.stringify(Object.entries(a).sort()) < JSON.stringify(Object.entries(b).sort()) ? -1 : 1,
        ),
      });
    else expect((body as Result).data?.result ?? body).toEqual((fx.response as Result).data?.result ?? fx.response);
  });

  it("passes a querier's 400 through with its status and plain-text body", async () => {
    const { res, fx } = await ask("error_400_bad_logql");
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(await res.text()).toBe(fx.response);
  });

  it("passes Loki's encoding flags header to the queriers", async () => {
    await ask("log_categorize_labels", {
      headers: { "x-loki-response-encoding-flags": "categorize-labels", "x-query-tags": "Source=logsample" },
    });
    expect(querier.requests[0]!.headers["x-loki-response-encoding-flags"]).toBe("categorize-labels");
    expect(querier.requests[0]!.headers["x-query-tags"]).toBe("Source=logsample");
  });

  it("retries 5xx answers and succeeds", async () => {
    querier.failNext(2, 503);
    const { res, fx } = await ask("log_2d_forward_full");
    expect(res.status).toBe(200);
    expect(((await res.json()) as Result).data.result).toEqual((fx.response as Result).data.result);
    expect(querier.requests).toHaveLength(5);
  });

  it("gives up after 5 attempts with the querier's own answer", async () => {
    querier.failNext(100, 500);
    const { res } = await ask("labels");
    expect(res.status).toBe(500);
    expect(await res.text()).toBe("injected failure 500");
    expect(querier.requests).toHaveLength(5);
  });

  it.each([429, 400])("never retries a %d", async (status) => {
    querier.failNext(1, status);
    const { res } = await ask("labels");
    expect(res.status).toBe(status);
    expect(querier.requests).toHaveLength(1);
  });

  it("answers 504 with advice on timeout, and the querier sees the abort", async () => {
    querier.delay = -1;
    const { res } = await ask("labels", { tenant: "team-slow" });
    expect(res.status).toBe(504);
    expect(await res.text()).toContain("smaller time range");
    await expect.poll(() => querier.aborted.length).toBe(1);
  });

  it("cancels every queued and in-flight sub-query when the client goes away", async () => {
    querier.delay = -1;
    const ac = new AbortController();
    const pending = ask("metric_3d_full", { signal: ac.signal });
    await expect.poll(() => querier.requests.length).toBe(3);
    ac.abort();
    await pending.catch(() => undefined);
    await expect.poll(() => querier.aborted.length).toBe(3);
  });

  it("is ready only while a querier is healthy, and refuses work at once when none is", async () => {
    const ready = () => frontend.app.fetch(new Request("http://frontend/ready"));
    expect((await ready()).status).toBe(200);
    querier.healthy = false;
    await expect.poll(async () => (await ready()).status, { timeout: 3000 }).toBe(503);
    expect(await (await ready()).text()).toContain("/ready answered 503");
    expect(await (await ready()).text()).toContain(querier.url);
    const { res } = await ask("labels");
    expect(res.status).toBe(503);
    querier.healthy = true;
    await expect.poll(async () => (await ready()).status, { timeout: 3000 }).toBe(200);
    expect((await ask("labels")).res.status).toBe(200);
  });
});

describe("frontend with a dead querier in the pool", () => {
  it("retries on the live querier and marks the dead one unhealthy", async () => {
    const live = await startFixtureQuerier();
    const frontend = createFrontend(
      parseConfig({
        frontend: {
          queriers: [{ url: "http://127.0.0.1:9" }, { url: live.url }],
          health_check: { interval: "1h", unhealthy_after: 1 },
          cache: NO_CACHE,
        },
      }).frontend!,
    );
    try {
      const fx = loadFixture("labels");
      for (let i = 0; i < 4; i++) {
        const res = await frontend.app.fetch(
          new Request(
            `http://f/loki/api/v1/labels?${new URLSearchParams(fx.request.params as Record<string, string>)}`,
          ),
          { identity: identity() },
        );
        expect(res.status).toBe(200);
      }
      expect(frontend.pool.queriers[0]!.healthy).toBe(false);
      expect(frontend.pool.queriers[0]!.lastError).toContain("unreachable");
    } finally {
      frontend.close();
      await live.close();
    }
  });
});
