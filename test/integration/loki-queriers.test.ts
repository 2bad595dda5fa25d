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
import {
  denseHourCostQueries,
  generateHistory,
  lokiOrSkip,
  pushDenseHour,
  pushHistory,
  startLokiQueriers,
  type TestLokiQueriers,
} from "../support/loki.js";

// fairgate as the only query frontend in front of two real Loki querier processes (no Loki query-frontend or
// scheduler), both reading the same seven days from one ingester. A counting proxy before each querier shows which
// sub-query reached which querier, in what order, for whom, and how long the querier took: that is querier time.
// What must hold: split answers equal one querier's unsplit answer, a light user's pieces overtake a flood's queued
// ones, and two users whose queries cost about 10:1 share querier time far more evenly than equal turns would.

const SUITE = "test/integration/loki-queriers.test.ts (fairgate in front of two real Loki queriers)";
const bin = lokiOrSkip(SUITE);
const TENANT = "tenant-a";
const HOUR = 3600;

describe.skipIf(!bin)(SUITE, () => {
  let bed: TestLokiQueriers;
  let gate: InFront;
  let hourEnd: number;

  beforeAll(async () => {
    bed = await startLokiQueriers({ bin, queriers: 2 });
    await pushHistory(bed.write, generateHistory({ tenants: [TENANT], days: 7 }));
    hourEnd = await pushDenseHour(bed.write, 50, TENANT);
    // One running piece per querier plus one idle-actor slot: the sizing of config/examples/loki.yaml for queriers
    // that share two cores here. Loki's own 1h split; no results cache, so every answer comes from the queriers.
    gate = await fairgateInFront(
      bed.querierUrls,
      TENANT,
      { max_concurrent: 1, idle_actor_slots: 1 },
      {
        limits: { split_metric_queries_by_interval: "1h", split_log_queries_by_interval: "1h" },
        cache: { results: { enabled: false }, metadata: { enabled: false }, empty_logs: { enabled: false } },
      },
    );
  }, 180_000);

  afterAll(async () => {
    await gate?.close();
    await bed?.close();
  });

  const direct = async (url: string, path: string, params: Record<string, string>) => {
    const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`, { headers: { "x-scope-orgid": TENANT } });
    expect(res.status).toBe(200);
    return res.json();
  };

  it("answers split 2h, 24h and 7d queries exactly as one querier answers them unsplit", async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases = [
      { range: 2 * HOUR, step: 60 },
      { range: 24 * HOUR, step: 300 },
      { range: 7 * 24 * HOUR, step: HOUR },
    ];
    const metric = [
      'sum by (level) (count_over_time({env="prod"}[5m]))',
      'sum by (app) (rate({env="prod"} |= "GET" [10m]))',
      'quantile_over_time(0.9, {app="api", env="prod"} | logfmt | unwrap duration [30m]) by (level)',
    ];
    const before = gate.proxies.map((p) => p.arrivals.length);
    for (const { range, step } of cases) {
      // On the step grid: fairgate snaps a Loki metric query to it, as Loki's own frontend does.
      const end = Math.floor(now / step) * step;
      const start = end - range;
      const asked = [
        ...metric.map((query) => ({ query, start: String(start), end: String(end), step: String(step) })),
        // One stream, so the querier's own choice among entries at the limit cannot differ between stream orders.
        {
          query: '{app="api", env="prod", level="error"}',
          start: String(start),
          end: String(end),
          limit: "150",
          direction: "backward",
        },
      ];
      for (const params of asked) {
        const res = await gate.ask("checker", "/loki/api/v1/query_range", params);
        const text = await res.text();
        expect(res.status, text.slice(0, 300)).toBe(200);
        expect(Number(res.headers.get("x-fairgate-splits"))).toBeGreaterThan(1);
        const unsplit = await direct(bed.querierUrls[0]!, "/loki/api/v1/query_range", params);
        const got = sortedResult(JSON.parse(text));
        expect(got.result.length, `${params.query} over ${range / HOUR}h`).toBeGreaterThan(0);
        expect(got, `${params.query} over ${range / HOUR}h`).toEqual(sortedResult(unsplit));
      }
    }
    // Both queriers did part of the work.
    for (const [i, p] of gate.proxies.entries()) expect(p.arrivals.length).toBeGreaterThan(before[i]!);
  }, 180_000);

  it("a light user's pieces reach the queriers before the flood's queued ones", async () => {
    const now = Math.floor(Date.now() / 1000);
    // Two days of regex filtering at step 60 per query, 1h pieces, each query distinct: hundreds of pieces queue.
    const seen = await floodThenLight(gate, "/loki/api/v1/query_range", {
      floods: 8,
      minQueued: 20,
      heavy: (i) => ({
        query: `sum by (level) (count_over_time({env="prod"} |~ "status=5.." != "flood-${i}" [1m]))`,
        start: String(now - 2 * 86_400),
        end: String(now),
        step: "60",
      }),
      light: {
        query: 'sum(count_over_time({env="prod", app="api"} != "light" [1m]))',
        start: String(now - 2 * HOUR),
        end: String(now),
        step: "60",
      },
    });
    console.log(`loki queriers, light user under a flood: ${JSON.stringify(seen)}`);
    expectLightAhead(seen);
  }, 120_000);

  it("two users whose queries cost several times apart get comparable querier time, not equal turns", async () => {
    // A dense stream's 12 minutes with a regex filter against a sparse stream's hour: each one piece or two.
    const cost = await costShares(gate, "/loki/api/v1/query_range", {
      loops: 3,
      windowMs: 8000,
      ...denseHourCostQueries(hourEnd),
    });
    console.log(`loki queriers, two users at about 10:1 cost: ${JSON.stringify(cost)}`);
    expectCostShared(cost);
  }, 60_000);
});
