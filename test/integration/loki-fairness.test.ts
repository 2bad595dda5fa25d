import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend } from "../../src/frontend/app.js";
import {
  generateHistory,
  lokiOrSkip,
  pushHistory,
  querierSubQueries,
  startLoki,
  type TestLoki,
} from "../support/loki.js";

// fairgate with its default config in front of a real Loki (querier.max_concurrent 2), identity only
// from the frontend's identity (no client actor header). A heavy user floods the tenant with
// multi-day metric queries: fairgate's regular slots all hold 24h pieces, each of which Loki runs as
// 24 one-hour sub-queries. A light user then asks for one hour. What must hold is an order, seen in
// Loki's own querier log: the light user's sub-query starts before the flood's remaining ones, not
// after a whole flood piece (fairness cannot preempt a piece in flight; the idle-actor slot lets the
// light piece reach Loki at once, and Loki's scheduler orders sub-queries per actor path).

const bin = lokiOrSkip("fairgate in front of a real Loki: a light user under a flood");
const TENANT = "tenant-a";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!bin)("fairgate in front of a real Loki: a light user under a flood", () => {
  let loki: TestLoki;
  let frontend: Frontend;

  beforeAll(async () => {
    loki = await startLoki({ bin, maxConcurrent: 2, logLevel: "info" });
    await pushHistory(loki, generateHistory({ tenants: [TENANT], days: 3 }));
    frontend = createFrontend(parseConfig({ frontend: { queriers: [{ url: loki.url }] } }).frontend!, {
      log: () => {},
    });
  }, 120_000);

  afterAll(async () => {
    frontend?.close();
    await loki?.close();
  });

  const ask = async (actor: string, query: string, startS: number, endS: number, signal?: AbortSignal) => {
    const qs = new URLSearchParams({ query, start: String(startS), end: String(endS), step: "60" });
    const identity = { subject: actor, tenants: [TENANT], actorPath: `users|${actor}`, scopes: [] };
    return frontend.app.fetch(new Request(`http://fairgate/loki/api/v1/query_range?${qs}`, { signal }), { identity });
  };

  it("the light user's sub-query starts at Loki's querier before the flood's remaining ones", async () => {
    const now = Math.floor(Date.now() / 1000);
    const flood = new AbortController();
    // Two days of regex filtering at step 60 per query, each query distinct: nothing comes from a cache.
    const heavy = Array.from({ length: 6 }, (_, i) =>
      ask(
        "heavy",
        `sum by (level) (count_over_time({env="prod"} |~ "status=5.." != "flood-${i}" [1m]))`,
        now - 2 * 86_400,
        now,
        flood.signal,
      ).catch(() => undefined),
    );
    try {
      // The flood is under way: every regular slot holds one of its pieces, more wait, and Loki runs them.
      const floodStarts = () =>
        querierSubQueries(loki.logs()).filter((s) => s.event === "start" && s.query.includes('"flood-')).length;
      for (let i = 0; i < 300 && (frontend.queue.length === 0 || floodStarts() < 2); i++) await sleep(20);
      const q = frontend.pool.queriers[0]!;
      expect(q.inflight).toBe(q.maxConcurrent);
      expect(frontend.queue.length).toBeGreaterThan(0);

      const asked = Date.now();
      const light = await ask("light", `sum(count_over_time({env="prod", app="api"} != "light" [1m]))`, now - 600, now);
      expect(light.status).toBe(200);
      const body = (await light.json()) as { data: { result: unknown[] } };
      expect(body.data.result.length).toBe(1);

      // Let the flood go on until the light sub-query's line and the flood's later ones are in Loki's log (its
      // output arrives through a pipe, a little after the answer), or until it ran out of work: then the
      // assertions below fail, since the light query came last.
      const starts = () => querierSubQueries(loki.logs()).filter((s) => s.event === "start");
      const lightIn = (all: ReturnType<typeof starts>) => all.findIndex((s) => s.query.includes('"light"'));
      const floodAfterLight = () => {
        const all = starts();
        const at = lightIn(all);
        return at < 0 ? 0 : all.slice(at + 1).filter((s) => s.query.includes('"flood-')).length;
      };
      for (let i = 0; i < 300 && floodAfterLight() <= 8; i++) await sleep(50);
      const lightAt = lightIn(starts());
      expect(lightAt).toBeGreaterThan(-1);
      const floodBetween = starts()
        .slice(0, lightAt)
        .filter((s) => s.query.includes('"flood-') && s.atMs >= asked).length;
      const floodAfter = floodAfterLight();
      // Only what Loki's two workers started while the light query made its way through fairgate and Loki's own
      // frontend (up to 5 seen on a busy CI machine), not the rest of a 24-sub-query piece (13 and more went first
      // without idle-actor slots)...
      expect(floodBetween).toBeLessThanOrEqual(8);
      // ... while the flood still had work left to start.
      expect(floodAfter).toBeGreaterThan(8);
    } finally {
      flood.abort(new Error("test over"));
      await Promise.allSettled(heavy);
    }
  }, 90_000);
});
