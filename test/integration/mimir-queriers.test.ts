import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  costShares,
  expectCostShared,
  expectLightAhead,
  fairgateInFront,
  floodThenLight,
  type InFront,
  sortedResult,
} from "../support/in-front.js";
import { generateMetrics, mimirOrSkip, startMimirQueriers, type TestMimirQueriers } from "../support/mimir.js";

// fairgate as the only query frontend in front of two real Mimir querier processes (no Mimir query-frontend or
// scheduler), both reading the same seven days from the monolith's ingester. A counting proxy before each querier
// shows which sub-query reached which querier, in what order, for whom, and how long the querier took. What must
// hold: split answers equal one querier's unsplit answer, a light user's pieces overtake a flood's queued ones, and
// two users whose queries cost about 10:1 share querier time far more evenly than equal turns would.

const SUITE = "test/integration/mimir-queriers.test.ts (fairgate in front of two real Mimir queriers)";
const bin = mimirOrSkip(SUITE);
const TENANT = "tenant-a";
const HOUR = 3600;
const PATH = "/api/v1/query_range"; // the querier URLs carry Mimir's /prometheus prefix

describe.skipIf(!bin)(SUITE, () => {
  let bed: TestMimirQueriers;
  let gate: InFront;

  beforeAll(async () => {
    bed = await startMimirQueriers({ bin, queriers: 2 });
    await bed.push(TENANT, generateMetrics({ days: 7 }));
    gate = await fairgateInFront(
      bed.querierUrls,
      TENANT,
      { max_concurrent: 1, idle_actor_slots: 1 },
      { limits: { split_metric_queries_by_interval: "1h" }, cache: { results: { enabled: false } } },
    );
  }, 180_000);

  afterAll(async () => {
    await gate?.close();
    await bed?.close();
  });

  it("answers split 2h, 24h and 7d queries exactly as one querier answers them unsplit", async () => {
    const now = Math.floor(Date.now() / 1000);
    const queries = [
      "sum by (job, code) (rate(http_requests_total[5m]))",
      "topk(3, sum by (instance) (rate(http_requests_total[15m])))",
      "max_over_time(queue_depth[30m]) > 50",
      'increase(http_requests_total{instance="api-1:8080", method="GET"}[1h])',
    ];
    const before = gate.proxies.map((p) => p.arrivals.length);
    for (const { range, step } of [
      { range: 2 * HOUR, step: 60 },
      { range: 24 * HOUR, step: 300 },
      { range: 7 * 24 * HOUR, step: HOUR },
    ])
      for (const query of queries) {
        // Off the step grid on purpose: Prometheus evaluates from start, and so must every piece.
        const params = { query, start: String(now - range - 17), end: String(now - 17), step: String(step) };
        const res = await gate.ask("checker", PATH, params);
        const text = await res.text();
        expect(res.status, text.slice(0, 300)).toBe(200);
        expect(Number(res.headers.get("x-fairgate-splits"))).toBeGreaterThan(1);
        const unsplit = await fetch(`${bed.querierUrls[0]}${PATH}?${new URLSearchParams(params)}`, {
          headers: { "x-scope-orgid": TENANT },
        });
        expect(unsplit.status).toBe(200);
        const got = sortedResult(JSON.parse(text));
        expect(got.result.length, `${query} over ${range / HOUR}h`).toBeGreaterThan(0);
        expect(got, `${query} over ${range / HOUR}h`).toEqual(sortedResult(await unsplit.json()));
      }
    for (const [i, p] of gate.proxies.entries()) expect(p.arrivals.length).toBeGreaterThan(before[i]!);
  }, 180_000);

  it("a light user's pieces reach the queriers before the flood's queued ones", async () => {
    const now = Math.floor(Date.now() / 1000);
    // Two days at step 60 in 1h pieces, each query distinct: hundreds of pieces queue.
    const seen = await floodThenLight(gate, PATH, {
      floods: 8,
      minQueued: 20,
      heavy: (i) => ({
        query: `sum by (job) (quantile_over_time(0.9, http_requests_total{method!="flood-${i}"}[2h]))`,
        start: String(now - 2 * 86_400),
        end: String(now),
        step: "60",
      }),
      light: { query: 'sum(rate(http_requests_total{job="api", code!="light"}[5m]))', ...lastHours(now, 2) },
    });
    console.log(`mimir queriers, light user under a flood: ${JSON.stringify(seen)}`);
    expectLightAhead(seen);
  }, 120_000);

  it("two users whose queries cost several times apart get comparable querier time, not equal turns", async () => {
    let serial = 0;
    const now = Math.floor(Date.now() / 1000);
    const cost = await costShares(gate, PATH, {
      loops: 3,
      windowMs: 8000,
      // Three days of samples per step and series, against one series' five minutes: each one piece or two.
      dear: () => ({
        query: `sum by (job) (quantile_over_time(0.9, http_requests_total{code!="e-${serial++}"}[3d]))`,
        ...lastHours(now, 1),
      }),
      cheap: () => ({
        query: `max(max_over_time(queue_depth{instance="api-0:8080", job!="c-${serial++}"}[5m]))`,
        ...lastHours(now, 1),
      }),
    });
    console.log(`mimir queriers, two users at about 10:1 cost: ${JSON.stringify(cost)}`);
    expectCostShared(cost);
  }, 60_000);
});

/** The last `hours` before `now`, at step 60. */
function lastHours(now: number, hours: number) {
  return { start: String(now - hours * HOUR), end: String(now), step: "60" };
}
