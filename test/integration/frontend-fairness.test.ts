import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend } from "../../src/frontend/app.js";
import type { SubQuery } from "../../src/frontend/dispatch/pool.js";
import { TenantFifoQueue } from "../../src/frontend/queue/queue.js";
import type { Identity } from "../../src/identity/signed-identity.js";
import { answerAfter } from "../support/test-querier.js";

// The frontend in front of a real HTTP querier whose latency the test sets, with one querier slot
// (max_concurrent 1), metric queries split by hour: what the queue does becomes the order in which
// the querier sees sub-queries.

const TENANT = "team-a";
const HOUR = 3600;
const T0 = Math.floor(1_700_000_000 / HOUR) * HOUR; // on an hour boundary: N hours are N splits
const ACTOR = { A: "users|aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", B: "users|bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" };

interface Arrival {
  actor: string;
  at: number;
}

interface Querier {
  url: string;
  /** Sub-queries in arrival order, with X-Loki-Actor-Path. */
  arrivals: Arrival[];
  /** Sub-queries whose client went away before the answer. */
  aborted: number;
  /** Answer delay in ms; -1 holds every answer until the client goes away. */
  latencyMs: number;
  close(): Promise<void>;
}

async function startQuerier(latencyMs: number): Promise<Querier> {
  const q: Querier = { url: "", arrivals: [], aborted: 0, latencyMs, close: async () => {} };
  const server = createServer((req, res) => {
    if (req.url === "/ready" || req.url === "/-/ready") return void res.end("ready");
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      q.arrivals.push({ actor: String(req.headers["x-loki-actor-path"]), at: performance.now() });
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      const start = Number(form.get("start") ?? new URL(req.url!, "http://q").searchParams.get("start"));
      const body = JSON.stringify({
        status: "success",
        data: { resultType: "matrix", result: [{ metric: { job: "fairness" }, values: [[start, "1"]] }] },
      });
      answerAfter(res, body, q.latencyMs, () => q.aborted++);
    });
  });
  await once(server.listen(0, "127.0.0.1"), "listening");
  const { port } = server.address() as AddressInfo;
  return Object.assign(q, {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      const closed = once(server.close(), "close");
      server.closeAllConnections();
      await closed;
    },
  });
}

function frontendFor(querier: Querier, queue: Record<string, unknown> = {}, fifo = false): Frontend {
  const config = parseConfig({
    frontend: {
      // One slot and no idle-actor slots: the queue alone decides the order the querier sees.
      queriers: [{ url: querier.url, max_concurrent: 1, idle_actor_slots: 0 }],
      health_check: { interval: "10s" },
      limits: { split_metric_queries_by_interval: "1h" },
      queue,
    },
  }).frontend!;
  return createFrontend(config, fifo ? { queue: new TenantFifoQueue<SubQuery>() } : {});
}

const identity = (actorPath: string): Identity => ({ subject: actorPath, tenants: [TENANT], actorPath, scopes: [] });

/** A query_range of `hours` one-hour splits; resolves when answered, with the time it took. */
async function ask(
  f: Frontend,
  actorPath: string,
  hours: number,
  signal?: AbortSignal,
): Promise<{ res: Response; body: string; ms: number; done: number }> {
  const qs = new URLSearchParams({
    query: "sum(rate(http_requests_total[5m]))",
    start: String(T0),
    end: String(T0 + hours * HOUR),
    step: "60",
  });
  const t = performance.now();
  const res = await f.app.fetch(new Request(`http://frontend/api/v1/query_range?${qs}`, { signal }), {
    identity: identity(actorPath),
  });
  const body = await res.text();
  const done = performance.now();
  return { res, body, ms: done - t, done };
}

const inPool = (f: Frontend) => f.queue.length + f.pool.queriers.reduce((n, q) => n + q.inflight, 0);

async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("frontend fairness against a querier with controlled latency", () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  async function setup(latencyMs: number, queue: Record<string, unknown> = {}, fifo = false) {
    const querier = await startQuerier(latencyMs);
    cleanup.push(() => querier.close());
    const frontend = frontendFor(querier, queue, fifo);
    cleanup.push(() => frontend.close());
    return { querier, frontend };
  }

  /** Actor A floods (3 queries × 12 splits), then actor B sends one 3-split query. */
  async function flood(frontend: Frontend, querier: Querier) {
    const started = performance.now();
    const a = [0, 1, 2].map(() => ask(frontend, ACTOR.A, 12));
    await until(() => inPool(frontend) === 36, "A's 36 sub-queries to be queued");
    const bSentAt = querier.arrivals.length;
    const b = await ask(frontend, ACTOR.B, 3);
    const as = await Promise.all(a);
    for (const r of [...as, b]) expect(r.res.status, r.body).toBe(200);
    expect(as.map((r) => r.res.headers.get("x-fairgate-splits"))).toEqual(["12", "12", "12"]);
    expect(querier.arrivals).toHaveLength(39);
    const aTotal = Math.max(...as.map((r) => r.done)) - started;
    const bPositions = querier.arrivals.map((x, i) => (x.actor === ACTOR.B ? i - bSentAt : -1)).filter((i) => i >= 0);
    return { aTotal, bMs: b.ms, bPositions };
  }

  it.each(["querier-time", "round-robin"])(
    "%s: a light actor's query runs interleaved with another actor's flood, not behind it",
    async (policy) => {
      const { querier, frontend } = await setup(50, { policy });
      const { aTotal, bMs, bPositions } = await flood(frontend, querier);
      expect(bPositions).toHaveLength(3);
      // One of A's sub-queries is on the querier when B arrives; B's three follow within a few turns.
      expect(
        Math.max(...bPositions),
        `B's sub-queries arrived as requests ${bPositions} after it was sent`,
      ).toBeLessThan(7);
      expect(bMs, `B took ${Math.round(bMs)} ms, A's flood ${Math.round(aTotal)} ms`).toBeLessThan(0.4 * aTotal);
    },
  );

  it("the per-tenant FIFO, by contrast, runs B behind the whole flood (the measure above discriminates)", async () => {
    const { querier, frontend } = await setup(20, {}, true);
    const { aTotal, bMs, bPositions } = await flood(frontend, querier);
    expect(Math.min(...bPositions)).toBeGreaterThanOrEqual(30);
    expect(bMs).toBeGreaterThan(0.8 * aTotal);
  });

  it("max_outstanding_requests_per_tenant: 429 in Prometheus' JSON, retry-after, nothing left queued", async () => {
    const { querier, frontend } = await setup(-1, { max_outstanding_requests_per_tenant: 2 });
    const { res, body } = await ask(frontend, ACTOR.A, 12);
    expect(res.status).toBe(429);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(JSON.parse(body)).toEqual({
      status: "error",
      errorType: "too_many_requests",
      error: expect.stringMatching(/max_outstanding_requests_per_tenant: 2/),
    });
    // The pieces already queued or running are cancelled with the query.
    await until(() => inPool(frontend) === 0, "the queue to empty");
    await until(() => querier.aborted === querier.arrivals.length, "the running piece to be cancelled");
    expect(
      JSON.parse(await (await frontend.admin.fetch(new Request("http://admin/debug/queue"))).text()).queue,
    ).toEqual({ queued: 0, tenants: [] });
  });

  it("an actor path deeper than max_queue_hierarchy_levels is refused with 400 and reaches no querier", async () => {
    const { querier, frontend } = await setup(0);
    const { res, body } = await ask(frontend, "a|b|c|d", 3);
    expect(res.status).toBe(400);
    expect(JSON.parse(body)).toMatchObject({
      status: "error",
      errorType: "bad_data",
      error: expect.stringMatching(/4 levels.*max_queue_hierarchy_levels \(3\)/),
    });
    expect(querier.arrivals).toEqual([]);
    expect(frontend.queue.length).toBe(0);
  });

  it("/debug/queue and /metrics show what waits; when the clients go away the queue empties", async () => {
    const { querier, frontend } = await setup(-1);
    const acA = new AbortController();
    const acB = new AbortController();
    const a = ask(frontend, ACTOR.A, 6, acA.signal);
    await until(() => inPool(frontend) === 6, "A's sub-queries");
    const b = ask(frontend, ACTOR.B, 3, acB.signal);
    await until(() => frontend.queue.length === 8, "8 sub-queries queued");

    const debug = (await (await frontend.admin.fetch(new Request("http://admin/debug/queue"))).json()) as {
      queue: {
        queued: number;
        tenants: {
          name: string;
          queued: number;
          inflight: number;
          children: { name: string; queued: number; children: { name: string; queued: number; inflight: number }[] }[];
        }[];
      };
      queriers: { inflight: number }[];
    };
    expect(debug.queue.queued).toBe(8);
    expect(debug.queriers).toMatchObject([{ inflight: 1 }]);
    const tenant = debug.queue.tenants.find((t) => t.name === TENANT)!;
    expect(tenant).toMatchObject({ queued: 8, inflight: 1 });
    const users = tenant.children.find((c) => c.name === "users")!;
    expect(users.queued).toBe(8);
    const byActor = Object.fromEntries(
      users.children.map((c) => [`users|${c.name}`, { queued: c.queued, inflight: c.inflight }]),
    );
    expect(byActor).toEqual({ [ACTOR.A]: { queued: 5, inflight: 1 }, [ACTOR.B]: { queued: 3, inflight: 0 } });

    const metrics = async () => (await frontend.admin.fetch(new Request("http://admin/metrics"))).text();
    const text = await metrics();
    expect(text).toMatch(new RegExp(`^loki_query_scheduler_queue_length\\{user="${TENANT}"\\} 8$`, "m"));
    expect(text).toMatch(/^loki_query_scheduler_queue_duration_seconds_count 1$/m);
    expect(text).toMatch(/^loki_query_scheduler_queue_duration_seconds_bucket\{le="\+Inf"\} 1$/m);

    acA.abort();
    acB.abort();
    const answers = await Promise.all([a, b]);
    expect(answers.map((r) => r.res.status)).toEqual([499, 499]);
    await until(() => inPool(frontend) === 0, "the queue and the querier slot to empty");
    expect(frontend.queue.length).toBe(0);
    await until(() => querier.aborted === 1, "the running sub-query to be cancelled at the querier");
    expect(querier.arrivals).toHaveLength(1);
    expect(
      ((await (await frontend.admin.fetch(new Request("http://admin/debug/queue"))).json()) as typeof debug).queue,
    ).toEqual({ queued: 0, tenants: [] });
    expect(await metrics()).not.toMatch(
      new RegExp(`^loki_query_scheduler_queue_length\\{user="${TENANT}"\\} [1-9]`, "m"),
    );
    expect(await metrics()).toMatch(
      /^loki_query_scheduler_discarded_requests_total\{user="team-a",reason="cancelled"\} 8$/m,
    );
  });
});
