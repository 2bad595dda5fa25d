import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { run, type Running } from "../../src/node/run.js";
import { edgeConfig } from "../support/edge-config.js";
import { startMemcached, type TestMemcached } from "../support/memcached.js";
import { startOidcProvider, type TestIdp } from "../support/oidc-provider.js";
import { startPrometheus, type TestPrometheus } from "../support/prometheus.js";
import { startTestQuerier, type TestQuerier } from "../support/test-querier.js";

// Asynchronous queries end to end: real tokens from a real OIDC provider, through the edge, into
// the co-deployed frontend (mode "all"), with the embedded (memory) async store; results are cached
// in a real memcached. Replicas sharing NATS JetStream are in async-nats.test.ts.
// The queriers are a real Prometheus, or a querier this file controls (latency, held answers,
// aborts) where timing matters.

const HOUR = 3600;
const T0 = Math.floor(1_700_000_000 / HOUR) * HOUR; // an hour boundary: N hours are N one-hour splits
const TICKET = /^\/fairgate\/api\/v1\/async\/([A-Za-z0-9_-]+)$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Who = "alice" | "bob" | "carol" | "svc";

describe("asynchronous queries through the edge", () => {
  let idp: TestIdp;
  let prom: TestPrometheus;
  let mc: TestMemcached;
  const tokens = {} as Record<Who, string>;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    [idp, prom, mc] = await Promise.all([
      startOidcProvider({ audience: "fairgate" }),
      startPrometheus({ days: 7 }),
      startMemcached(),
    ]);
    cleanup.push(
      () => idp.close(),
      () => prom.close(),
      () => mc.close(),
    );
    for (const who of ["alice", "bob", "carol"] as const) tokens[who] = (await idp.userTokens(who)).accessToken;
    tokens.svc = await idp.clientCredentialsToken({ clientId: "svc-ingest" });
  });
  afterAll(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  /** Edge and frontend in one process (mode "all"), job records and answers in the process. */
  async function gateway(
    queriers: { url: string; max_concurrent?: number }[],
    frontend: Record<string, unknown> = {},
  ): Promise<Running> {
    const { edge } = edgeConfig(idp, "http://unused.invalid");
    const gw = await run(
      parseConfig({
        server: { listen: "127.0.0.1:0" },
        log: { level: "warn" },
        edge: { ...edge, upstream: {} }, // no read_url: reads are served by the frontend in this process
        frontend: {
          queriers,
          health_check: { interval: "10s" },
          ...frontend,
          // The results cache is off unless a test turns it on, so that repeated queries reach the test querier.
          cache: {
            backend: "memcached",
            memcached: { servers: [mc.address], timeout: "1s" },
            results: { enabled: false },
            ...(frontend.cache as object),
          },
        },
      }),
      "all",
    );
    cleanup.push(() => gw.close(0));
    return gw;
  }

  async function testQuerier(delayMs: TestQuerier["delayMs"]): Promise<TestQuerier> {
    const q = await startTestQuerier(delayMs);
    cleanup.push(() => q.close());
    return q;
  }

  /** carol may read team-a and team-b: she names team-a, the tenant she shares with alice. */
  const headersOf = (who: Who | undefined, extra: Record<string, string> = {}): Record<string, string> => ({
    ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}),
    ...(who === "carol" ? { "x-scope-orgid": "team-a" } : {}),
    ...extra,
  });
  const call = (gw: Running, path: string, who?: Who, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    fetch(`${gw.url}${path}`, { ...init, headers: headersOf(who, init.headers) });

  /** A range query's parameters over `hours` one-hour splits from T0. */
  const range = (hours: number, query = "sum(rate(http_requests_total[5m]))", step = "60") => ({
    query,
    start: String(T0),
    end: String(T0 + hours * HOUR),
    step,
  });

  /** Submits with async=true (GET: in the URL; POST: in the form) and checks the ticket. */
  async function submit(
    gw: Running,
    path: string,
    params: Record<string, string>,
    who: Who = "alice",
    method: "GET" | "POST" = "GET",
  ) {
    const form = new URLSearchParams({ ...params, async: "true" });
    const res =
      method === "GET"
        ? await call(gw, `${path}?${form}`, who)
        : await call(gw, path, who, {
            method: "POST",
            body: form.toString(),
            headers: { "content-type": "application/x-www-form-urlencoded" },
          });
    const text = await res.text();
    expect(res.status, text).toBe(202);
    const location = res.headers.get("location") ?? "";
    const id = TICKET.exec(location)?.[1] ?? "";
    expect(id.length, `ticket ${location}`).toBeGreaterThanOrEqual(22); // ≥ 128 bits of base64url
    expect(JSON.parse(text)).toEqual({ status: "success", data: { id, state: "queued" } });
    return { id, location };
  }

  interface Status {
    state: string;
    progress: { splitsDone: number; splitsTotal: number };
    submittedAt: string;
    startedAt?: string;
    finishedAt?: string;
    expiresAt: string;
    error?: string;
  }
  const status = async (gw: Running, id: string, who: Who = "alice") => {
    const res = await call(gw, `/fairgate/api/v1/async/${id}/status`, who);
    return { res, body: (res.status === 200 ? await res.json() : await res.text()) as Status };
  };

  /** Polls the ticket until it answers something else than 204; returns that answer and what was seen on the way. */
  async function poll(gw: Running, id: string, who: Who = "alice", everyMs = 25, timeoutMs = 15_000) {
    const seen: { code: number; status?: Status }[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await call(gw, `/fairgate/api/v1/async/${id}`, who);
      if (res.status !== 204) return { res, body: await res.text(), seen };
      const s = await status(gw, id, who);
      seen.push({ code: res.status, status: s.body });
      if (Date.now() > deadline) throw new Error(`job ${id} still running after ${timeoutMs} ms`);
      await sleep(everyMs);
    }
  }

  /** The same query, synchronously and bypassing the results cache. */
  async function sync(gw: Running, path: string, params: Record<string, string>, who: Who = "alice") {
    const res = await call(gw, `${path}?${new URLSearchParams(params)}`, who, {
      headers: { "cache-control": "no-cache" },
    });
    return { res, body: await res.text() };
  }

  const isoTime = (s: string | undefined) => {
    expect(s).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    return Date.parse(s!);
  };

  describe("against a real Prometheus", () => {
    let gw: Running;
    beforeAll(async () => {
      gw = await gateway([{ url: prom.url }], { cache: { results: { enabled: true } } });
    });
    const last2d = () => ({ start: String(prom.end - 2 * 86400), end: String(prom.end) });

    it("POST form: 202 and a ticket, then the synchronous answer's exact bytes", async () => {
      const params = { query: "sum by (job, code) (rate(http_requests_total[5m]))", ...last2d(), step: "300" };
      const { id, location } = await submit(gw, "/api/v1/query_range", params, "alice", "POST");
      const done = await poll(gw, id);
      expect(done.res.status, done.body).toBe(200);
      expect(done.res.headers.get("content-type")).toContain("application/json");
      const direct = await sync(gw, "/api/v1/query_range", params);
      expect(direct.res.status).toBe(200);
      expect(done.body).toBe(direct.body);
      // 6 series: 2 jobs × 3 codes
      expect((JSON.parse(done.body) as { data: { result: unknown[] } }).data.result.length).toBe(6);
      // Polling again gives the same answer: the ticket is not consumed.
      expect(await (await call(gw, location, "alice")).text()).toBe(done.body);
    });

    it("GET: an instant query works the same way", async () => {
      const params = { query: "sum by (job) (http_requests_total)", time: String(prom.end - 3600) };
      const { id } = await submit(gw, "/api/v1/query", params);
      const done = await poll(gw, id);
      expect(done.res.status, done.body).toBe(200);
      const direct = await sync(gw, "/api/v1/query", params);
      expect(done.body).toBe(direct.body);
    });

    it("a result of several MiB comes back intact, on the wait and on the ticket", async () => {
      const params = {
        query: "http_requests_total",
        start: String(prom.end - 7 * 86400),
        end: String(prom.end),
        step: "60",
      };
      // wait: the answer comes back once stored, read back from the async store.
      const waited = await call(
        gw,
        `/api/v1/query_range?${new URLSearchParams({ ...params, async: "true", wait: "20s" })}`,
        "alice",
      );
      const body = await waited.text();
      expect(waited.status, body.slice(0, 300)).toBe(200);
      const { id } = await submit(gw, "/api/v1/query_range", params);
      const polled = await poll(gw, id);
      expect(polled.res.status).toBe(200);
      const direct = await sync(gw, "/api/v1/query_range", params);
      expect(direct.body.length).toBeGreaterThan(4 * 1024 * 1024);
      for (const answer of [body, polled.body]) {
        expect(answer.length).toBe(direct.body.length);
        expect(answer === direct.body).toBe(true); // not toBe: a diff of 4 MiB strings is no help
      }
    });
  });

  describe("against a querier with controlled latency", () => {
    let gw: Running;
    let q: TestQuerier;
    beforeAll(async () => {
      q = await testQuerier(0);
      gw = await gateway([{ url: q.url, max_concurrent: 4 }], {
        limits: { split_metric_queries_by_interval: "1h" },
        async: { max_wait: "400ms" },
      });
    });

    it("/prometheus/api/v1: 204 while running, progress and state in the status, then the answer", async () => {
      q.delayMs = (start) => 100 * (1 + (start - T0) / HOUR); // the four splits finish 100 ms apart
      const params = range(4);
      const { id } = await submit(gw, "/prometheus/api/v1/query_range", params);
      const done = await poll(gw, id, "alice", 20);
      expect(done.res.status, done.body).toBe(200);
      expect(q.seen.at(-1)?.path).toBe("/prometheus/api/v1/query_range");
      // While it ran, polls said 204 and the status showed the splits completing. The status is read
      // just after each 204, so the last one may already say done: the job finished in between.
      expect(done.seen.length).toBeGreaterThan(2);
      const states = done.seen.map((s) => s.status!.state);
      const last = states.length - 1;
      expect(
        states.every((s, i) => s === "queued" || s === "running" || (s === "done" && i === last)),
        states.join(),
      ).toBe(true);
      expect(states).toContain("running");
      const dones = done.seen.map((s) => s.status!.progress.splitsDone);
      expect(dones).toEqual([...dones].sort((a, b) => a - b));
      expect(
        done.seen.filter((s) => s.status!.state === "running").every((s) => s.status!.progress.splitsTotal === 4),
      ).toBe(true);

      const final = await status(gw, id);
      expect(final.res.status).toBe(200);
      expect(final.body.state).toBe("done");
      expect(final.body.progress).toEqual({ splitsDone: 4, splitsTotal: 4 });
      expect(final.body.error).toBeUndefined();
      const [submitted, started, finished, expires] = [
        final.body.submittedAt,
        final.body.startedAt,
        final.body.finishedAt,
        final.body.expiresAt,
      ].map(isoTime) as [number, number, number, number];
      expect(submitted).toBeLessThanOrEqual(started);
      expect(started).toBeLessThanOrEqual(finished);
      expect(finished - submitted).toBeGreaterThanOrEqual(350);
      expect(new Set(dones).size, `splitsDone seen: ${dones.join()}`).toBeGreaterThanOrEqual(3);
      expect(expires).toBeGreaterThan(finished);

      q.delayMs = 0;
      const direct = await sync(gw, "/prometheus/api/v1/query_range", params);
      expect(done.body).toBe(direct.body);
    });

    it("Loki query_range: the same ticket flow, the same answer as synchronously", async () => {
      q.delayMs = 50;
      const params = {
        query: 'sum(count_over_time({app="api"}[5m]))',
        start: `${T0}000000000`,
        end: `${T0 + 2 * HOUR}000000000`,
        step: "60",
      };
      const { id } = await submit(gw, "/loki/api/v1/query_range", params);
      const done = await poll(gw, id);
      expect(done.res.status, done.body).toBe(200);
      expect(q.seen.at(-1)?.path).toBe("/loki/api/v1/query_range");
      const direct = await sync(gw, "/loki/api/v1/query_range", params);
      expect(direct.res.status).toBe(200);
      expect(JSON.parse(done.body)).toEqual(JSON.parse(direct.body));
      expect(done.body).toBe(direct.body);
    });

    it("a poll while a large answer is being stored says 204, never 404 (unknown)", async () => {
      q.delayMs = 0;
      q.series = 30; // 30 series × 10,801 points: about 7 MB of JSON to compress and store in chunks
      try {
        const { id, location } = await submit(gw, "/api/v1/query_range", { ...range(3), step: "1" });
        const codes: number[] = [];
        let res: Response;
        let body: string;
        do {
          res = await call(gw, location, "alice");
          body = await res.text();
          codes.push(res.status);
        } while (res.status === 204);
        await sleep(1000);
        const later = await call(gw, location, "alice");
        const polls =
          `polls answered ${codes.join(" ").replace(/(204 )+/, "204… ")}: ${body.slice(0, 120)}; ` +
          `a second later: ${later.status}`;
        expect(res.status, polls).toBe(200);
        expect(body.length).toBeGreaterThan(5_000_000);
        expect((await status(gw, id)).body.state).toBe("done");
      } finally {
        q.series = 1;
      }
    });

    it("wait=5s on a fast query answers 200 with the result right away", async () => {
      q.delayMs = 0;
      const params = range(3);
      const t = performance.now();
      const res = await call(
        gw,
        `/api/v1/query_range?${new URLSearchParams({ ...params, async: "true", wait: "5s" })}`,
        "alice",
      );
      const body = await res.text();
      expect(res.status, body).toBe(200);
      expect(performance.now() - t).toBeLessThan(1000);
      expect(body).toBe((await sync(gw, "/api/v1/query_range", params)).body);
    });

    it("wait is capped by max_wait: a slow query answers 202 after max_wait, not after wait", async () => {
      q.delayMs = 3000;
      const aborted = q.aborted;
      const t = performance.now();
      const res = await call(
        gw,
        `/api/v1/query_range?${new URLSearchParams({ ...range(1), async: "true", wait: "20s" })}`,
        "alice",
      );
      const ms = performance.now() - t;
      expect(res.status, await res.text()).toBe(202);
      expect(ms).toBeGreaterThanOrEqual(350);
      expect(ms).toBeLessThan(1500);
      expect((await call(gw, res.headers.get("location")!, "alice", { method: "DELETE" })).status).toBe(204);
      await expect.poll(() => q.aborted).toBe(aborted + 1); // before the next test counts aborts
    });

    it("DELETE cancels: the querier sees its sub-queries aborted, and the ticket is gone", async () => {
      q.delayMs = -1;
      const before = { seen: q.seen.length, aborted: q.aborted };
      const { id, location } = await submit(gw, "/api/v1/query_range", range(3));
      await expect.poll(() => q.seen.length - before.seen).toBe(3);
      const del = await call(gw, location, "alice", { method: "DELETE" });
      expect(del.status).toBe(204);
      expect(await del.text()).toBe("");
      await expect.poll(() => q.aborted - before.aborted).toBe(3);
      await sleep(100);
      expect(q.seen.length - before.seen).toBe(3); // nothing more was sent
      expect((await call(gw, location, "alice")).status).toBe(404);
      expect((await status(gw, id)).res.status).toBe(404);
      expect((await call(gw, location, "alice", { method: "DELETE" })).status).toBe(404);
    });

    it("someone else's ticket is answered exactly like an unknown one; no token is refused at the edge", async () => {
      q.delayMs = -1;
      const { id, location } = await submit(gw, "/api/v1/query_range", range(1));
      const unknown = randomBytes(18).toString("base64url");
      const shape = async (res: Response, ticket: string) => ({
        status: res.status,
        type: res.headers.get("content-type"),
        body: (await res.text()).replaceAll(ticket, "<id>"),
      });
      for (const [suffix, method] of [
        ["", "GET"],
        ["/status", "GET"],
        ["", "DELETE"],
      ] as const) {
        const expected = await shape(
          await call(gw, `/fairgate/api/v1/async/${unknown}${suffix}`, "alice", { method }),
          unknown,
        );
        expect(expected.status).toBe(404);
        expect(expected.body).toContain("<id>");
        // bob: another tenant; carol: another user of alice's tenant team-a.
        for (const who of ["bob", "carol"] as const) {
          const theirs = await shape(await call(gw, `/fairgate/api/v1/async/${id}${suffix}`, who, { method }), id);
          expect(theirs, `${who} ${method} ${suffix}`).toEqual(expected);
        }
        const anonymous = await call(gw, `/fairgate/api/v1/async/${id}${suffix}`, undefined, { method });
        expect(anonymous.status).toBe(401);
      }
      expect((await call(gw, location, "alice", { method: "POST" })).status).toBe(405);
      // Their DELETEs did nothing: the job still runs for alice.
      expect((await status(gw, id)).body.state).toMatch(/^(queued|running)$/);
      expect((await call(gw, location, "alice")).status).toBe(204);
      expect((await call(gw, location, "alice", { method: "DELETE" })).status).toBe(204);
    });
  });

  describe("limits and expiry", () => {
    let gw: Running;
    let q: TestQuerier;
    beforeAll(async () => {
      q = await testQuerier(0);
      gw = await gateway([{ url: q.url }], {
        limits: { split_metric_queries_by_interval: "1h" },
        async: { keep_alive: "1s", max_jobs_per_actor: 1, max_jobs_per_tenant: 2, max_result_bytes: 2048 },
      });
    });

    it("max_jobs_per_actor and max_jobs_per_tenant: 429 with a message saying which", async () => {
      q.delayMs = -1;
      const first = await submit(gw, "/api/v1/query_range", range(1));
      const again = await call(
        gw,
        `/api/v1/query_range?${new URLSearchParams({ ...range(1), async: "true" })}`,
        "alice",
      );
      expect(again.status).toBe(429);
      expect(again.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(((await again.json()) as { error: string }).error).toMatch(/max_jobs_per_actor/);
      const bobs = await submit(gw, "/api/v1/query_range", range(1), "bob"); // another tenant, another actor
      const carols = await submit(gw, "/api/v1/query_range", range(1), "carol"); // team-a's second job
      // team-a's third
      const svc = await call(gw, `/api/v1/query_range?${new URLSearchParams({ ...range(1), async: "true" })}`, "svc");
      expect(svc.status).toBe(429);
      expect(((await svc.json()) as { error: string }).error).toMatch(/max_jobs_per_tenant/);
      for (const [t, who] of [
        [first, "alice"],
        [bobs, "bob"],
        [carols, "carol"],
      ] as const)
        expect((await call(gw, t.location, who, { method: "DELETE" })).status).toBe(204);
      // A cancelled job no longer counts.
      q.delayMs = 0;
      const after = await submit(gw, "/api/v1/query_range", range(1));
      expect((await poll(gw, after.id)).res.status).toBe(200);
    });

    it("max_result_bytes: the job fails with a clear error, and the ticket answers it", async () => {
      q.delayMs = 0;
      const { id } = await submit(gw, "/api/v1/query_range", range(2)); // 241 points: ~5 KB of JSON
      const done = await poll(gw, id);
      expect(done.res.status).toBe(413);
      expect(JSON.parse(done.body)).toMatchObject({ status: "error", errorType: "too_large" });
      const s = await status(gw, id);
      expect(s.body.state).toBe("failed");
      expect(s.body.error).toMatch(/over max_result_bytes \(2048\)/);
      expect(s.body.error).toMatch(/narrow the time range/);
      expect((JSON.parse(done.body) as { error: string }).error).toBe(s.body.error);
    });

    it("keep_alive: a finished job's ticket is gone after it", async () => {
      q.delayMs = 0;
      const { id, location } = await submit(gw, "/api/v1/query_range", { ...range(0), end: String(T0 + 300) });
      expect((await poll(gw, id)).res.status).toBe(200);
      const finishedAt = Date.parse((await status(gw, id)).body.finishedAt!);
      await sleep(Math.max(0, finishedAt + 1100 - Date.now()));
      expect((await call(gw, location, "alice")).status).toBe(404);
      expect((await status(gw, id)).res.status).toBe(404);
    });
  });

  describe("fairness: async floods do not starve interactive users", () => {
    it("carol's interactive query runs near its idle latency while alice's async jobs flood the querier", async () => {
      const q = await testQuerier(40);
      const gw = await gateway([{ url: q.url, max_concurrent: 1 }], {
        limits: { split_metric_queries_by_interval: "1h" },
      });
      const interactive = async () => {
        const t = performance.now();
        const res = await call(gw, `/api/v1/query_range?${new URLSearchParams(range(3))}`, "carol");
        expect(res.status, await res.text()).toBe(200);
        return performance.now() - t;
      };
      await interactive(); // warm: token cache, connections
      const idle = Math.min(await interactive(), await interactive());
      // The fair queue gives an actor that becomes active a head start of up to activation_credit
      // (2 s of querier time) for the time it was idle; alice, never seen, has it all. carol, too,
      // comes back after a pause: a user looking at a dashboard, then asking something.
      await sleep(2100);

      const before = q.seen.length;
      const started = performance.now();
      const jobs = [];
      for (let i = 0; i < 3; i++)
        jobs.push(await submit(gw, "/api/v1/query_range", range(12, `sum(rate(http_requests_total[5m])) + ${i}`)));
      // alice's reach the querier
      await expect.poll(() => q.seen.slice(before).some((s) => s.actor !== q.seen[0]!.actor)).toBe(true);
      const loaded = await interactive();
      // Done when the status says so (the status, not the ticket: this test is about the queue).
      for (const j of jobs)
        await expect
          .poll(async () => (await status(gw, j.id)).body.state, { timeout: 10_000, interval: 20 })
          .toBe("done");
      const flood = performance.now() - started;
      for (const j of jobs) expect((await status(gw, j.id)).body.progress).toEqual({ splitsDone: 12, splitsTotal: 12 });

      const msg = [
        `idle ${Math.round(idle)} ms`,
        `under the flood ${Math.round(loaded)} ms`,
        `the flood ${Math.round(flood)} ms`,
      ].join(", ");
      expect(loaded, msg).toBeLessThanOrEqual(2 * idle + 100);
      expect(loaded, msg).toBeLessThan(0.3 * flood);
    });
  });
});
