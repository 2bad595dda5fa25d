import { expect } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend } from "../../src/frontend/app.js";
import { type Arrival, type CountingProxy, startCountingProxy } from "./counting-proxy.js";

/**
 * fairgate's frontend (in process) in front of real querier processes, a counting proxy before each querier so that
 * a test sees which sub-query reached which querier, in what order, for whom, and how long the querier took.
 */
export interface InFront {
  frontend: Frontend;
  proxies: CountingProxy[];
  /** Every sub-query that reached a querier, over all of them, in order of arrival. */
  arrivals(): Arrival[];
  /** Asks fairgate as `actor` of `tenant` (the identity the edge would hand over): GET path?params. */
  ask(actor: string, path: string, params: Record<string, string>, signal?: AbortSignal): Promise<Response>;
  close(): Promise<void>;
}

/**
 * `frontend` is fairgate's frontend section without `queriers`; `querier` the settings of every querier entry
 * (max_concurrent, idle_actor_slots), whose URLs are the proxies'.
 */
export async function fairgateInFront(
  querierUrls: string[],
  tenant: string,
  querier: Record<string, unknown>,
  frontend: Record<string, unknown> = {},
): Promise<InFront> {
  const proxies = await Promise.all(querierUrls.map((u) => startCountingProxy(u)));
  const config = parseConfig({
    log: { level: "warn" },
    frontend: { ...frontend, queriers: proxies.map((p) => ({ url: p.url, ...querier })) },
  });
  const f = createFrontend(config.frontend!, { log: () => {} });
  return {
    frontend: f,
    proxies,
    arrivals: () => proxies.flatMap((p) => p.arrivals).sort((a, b) => a.atMs - b.atMs),
    ask: (actor, path, params, signal) => {
      const identity = { subject: actor, tenants: [tenant], actorPath: `users|${actor}`, scopes: [] };
      const url = `http://fairgate${path}?${new URLSearchParams(params)}`;
      return Promise.resolve(f.app.fetch(new Request(url, { signal }), { identity }));
    },
    close: async () => {
      f.close();
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
}

/** Each actor's share of the querier time its sub-queries took (answered ones, whose time is known). */
export function querierTimeShares(arrivals: Arrival[], actors: string[]): Record<string, number> {
  const ms = Object.fromEntries(actors.map((a) => [a, 0]));
  for (const a of arrivals) {
    const actor = actors.find((x) => a.actor === `users|${x}`);
    if (actor && a.ms !== undefined) ms[actor]! += a.ms;
  }
  const total = Object.values(ms).reduce((x, y) => x + y, 0);
  return Object.fromEntries(actors.map((a) => [a, total ? ms[a]! / total : 0]));
}

/** A matrix or streams answer's result with its series in a stable order, to compare two answers. */
export function sortedResult(body: { data: { resultType: string; result: { metric?: object; stream?: object }[] } }) {
  const key = (r: { metric?: object; stream?: object }) => JSON.stringify(r.metric ?? r.stream);
  return {
    resultType: body.data.resultType,
    result: [...body.data.result].sort((a, b) => key(a).localeCompare(key(b))),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Params = Record<string, string>;

export interface FloodThenLight {
  /** HTTP status of the light user's query and how many pieces fairgate split it into. */
  lightStatus: number;
  lightSplits: number;
  /** The light user's sub-queries that reached a querier. */
  lightArrivals: number;
  /** Flood sub-queries that reached a querier after the light user asked and before its last piece did. */
  floodBetween: number;
  /** Pieces still queued in fairgate when the light user's answer came back. */
  queuedAfter: number;
  /** Pieces queued in fairgate when the light user asked. */
  queuedBefore: number;
}

/**
 * `floods` queries of a heavy user run at once (`heavy(i)`; their text must hold `flood-${i}`); once at least
 * `minQueued` of their pieces wait in fairgate's queue, a light user asks `light` (its text holding "light").
 * What reached the queriers, in order, says whether the light user's pieces overtook the queued flood.
 */
export async function floodThenLight(
  gate: InFront,
  path: string,
  o: { floods: number; heavy: (i: number) => Params; light: Params; minQueued: number },
): Promise<FloodThenLight> {
  const flood = new AbortController();
  const heavy = Array.from({ length: o.floods }, (_, i) =>
    gate
      .ask("heavy", path, o.heavy(i), flood.signal)
      .then((r) => r.text())
      .catch(() => undefined),
  );
  try {
    const floodArrivals = () => gate.arrivals().filter((a) => a.query.includes("flood-"));
    for (let i = 0; i < 500 && (gate.frontend.queue.length < o.minQueued || floodArrivals().length < 4); i++)
      await sleep(20);
    const queuedBefore = gate.frontend.queue.length;
    const asked = performance.now();
    const light = await gate.ask("light", path, o.light);
    await light.text();
    const queuedAfter = gate.frontend.queue.length;
    const lightArrivals = gate.arrivals().filter((a) => a.query.includes("light"));
    const lastLight = lightArrivals.at(-1)?.atMs ?? asked;
    return {
      lightStatus: light.status,
      lightSplits: Number(light.headers.get("x-fairgate-splits")),
      lightArrivals: lightArrivals.length,
      floodBetween: floodArrivals().filter((a) => a.atMs >= asked && a.atMs < lastLight).length,
      queuedAfter,
      queuedBefore,
    };
  } finally {
    flood.abort(new Error("flood over"));
    await Promise.allSettled(heavy);
  }
}

export interface CostShares {
  /** Each user's share of the querier time of the window's sub-queries. */
  shares: { dear: number; cheap: number };
  /** Sub-queries that reached the queriers, per user. */
  pieces: { dear: number; cheap: number };
  /** Mean querier time of a sub-query, per user. */
  meanMs: { dear: number; cheap: number };
  /** Answers other than 200. */
  failed: number;
}

/**
 * Two users of one tenant, `loops` queries each always running for `windowMs` (at most 500 each): `dear()` and
 * `cheap()` make a new query each time. Querier time is what the counting proxies measured.
 */
export async function costShares(
  gate: InFront,
  path: string,
  o: { dear: () => Params; cheap: () => Params; loops: number; windowMs: number },
): Promise<CostShares> {
  const from = gate.arrivals().length;
  const stopAt = Date.now() + o.windowMs;
  let failed = 0;
  const loop = async (actor: string, q: () => Params) => {
    for (let i = 0; i < 500 && Date.now() < stopAt; i++) {
      const res = await gate.ask(actor, path, q());
      if (res.status !== 200) failed++;
      await res.text();
    }
  };
  const loops = Array.from({ length: o.loops }, () => [loop("dear", o.dear), loop("cheap", o.cheap)]);
  await Promise.all(loops.flat());
  const arrivals = gate.arrivals().slice(from);
  const of = (actor: string) => arrivals.filter((a) => a.actor === `users|${actor}`);
  const mean = (actor: string) => of(actor).reduce((s, a) => s + (a.ms ?? 0), 0) / Math.max(1, of(actor).length);
  const shares = querierTimeShares(arrivals, ["dear", "cheap"]);
  return {
    shares: { dear: shares.dear!, cheap: shares.cheap! },
    pieces: { dear: of("dear").length, cheap: of("cheap").length },
    meanMs: { dear: mean("dear"), cheap: mean("cheap") },
    failed,
  };
}

/**
 * The light user's pieces overtook the flood: only flood pieces already running when it asked could finish first
 * and hand their slot on (two regular slots, each once; one more for the light user's own first piece finishing in
 * between), not the pieces queued, which FIFO would run first; and the flood still had work queued behind it.
 */
export function expectLightAhead(seen: FloodThenLight, minQueued = 20): void {
  expect(seen.lightStatus).toBe(200);
  expect(seen.queuedBefore).toBeGreaterThanOrEqual(minQueued);
  expect(seen.lightSplits).toBeGreaterThanOrEqual(2);
  expect(seen.lightArrivals).toBeGreaterThanOrEqual(2);
  expect(seen.floodBetween).toBeLessThanOrEqual(4);
  expect(seen.queuedAfter).toBeGreaterThan(0);
}

/**
 * Querier time shared by cost: equal turns give the cheap user 1/(r+1) of the querier time at r:1 (1/11 at 10:1),
 * querier-time fairness about half; and the cheap user, whose pieces cost less, ran more of them.
 */
export function expectCostShared(cost: CostShares): void {
  expect(cost.failed).toBe(0);
  expect(cost.shares.cheap).toBeGreaterThan(0.3);
  expect(cost.pieces.cheap).toBeGreaterThan(cost.pieces.dear);
}
