// What bench/loki-queriers.ts and bench/mimir-queriers.ts share: three ways to reach the same querier processes
// (straight, through the product's own frontend and scheduler, through fairgate with a shipped example config),
// and for each one the same measurements: a light user's latency under a flood against its idle latency, Jain's
// index over querier time for two users whose queries cost about 10:1, and a 7-day query cold and warm.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseConfigText } from "../../src/config/load.js";
import { createFrontend, type Frontend } from "../../src/frontend/app.js";
import { jain, median, sleep } from "./loki.js";

export type Params = Record<string, string>;

/** One way to the queriers: ask a query_range as `actor` of the bench's tenant. Throws on anything but 200. */
export interface Way {
  name: string;
  ask(actor: string, params: Params, signal?: AbortSignal): Promise<number>;
  close(): Promise<void>;
}

async function timed(run: () => Promise<Response>): Promise<number> {
  const t0 = performance.now();
  const res = await run();
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${res.status}: ${body.slice(0, 300)}`);
  return performance.now() - t0;
}

/** Straight at the queriers, each query to the next one in turn, unsplit: what clients get with no frontend. */
export function straight(querierUrls: string[], path: string, tenant: string): Way {
  let next = 0;
  return {
    name: "straight at the queriers",
    ask: (_actor, params, signal) =>
      timed(() =>
        fetch(`${querierUrls[next++ % querierUrls.length]}${path}?${new URLSearchParams(params)}`, {
          headers: { "x-scope-orgid": tenant },
          signal,
        }),
      ),
    close: async () => {},
  };
}

/** Through the product's own query-frontend and scheduler, the client sending its actor path (its best case). */
export function ownFrontend(name: string, url: string, path: string, tenant: string): Way {
  return {
    name,
    ask: (actor, params, signal) =>
      timed(() =>
        fetch(`${url}${path}?${new URLSearchParams(params)}`, {
          headers: { "x-scope-orgid": tenant, "x-loki-actor-path": `users|${actor}` },
          signal,
        }),
      ),
    close: async () => {},
  };
}

/**
 * fairgate's frontend as a shipped example configures it (config/examples/NAME), every querier entry's URL replaced
 * by the bench's queriers (the entry's other settings kept); `over` and `limits` (parsed units: ms) for variants.
 */
export function exampleFrontend(
  example: string,
  querierUrls: string[],
  over: Record<string, unknown> = {},
  limits: Record<string, unknown> = {},
): Frontend {
  const text = readFileSync(new URL(`../../config/examples/${example}`, import.meta.url), "utf8");
  const config = parseConfigText(text, { FAIRGATE_ACTOR_SECRET: "bench-actor-secret-0123456789" });
  const frontend = config.frontend!;
  const entry = frontend.queriers[0]!;
  return createFrontend(
    {
      ...frontend,
      limits: { ...frontend.limits, ...limits },
      queriers: querierUrls.map((url) => ({ ...entry, url, ...over })),
    },
    { log: () => {} },
  );
}

/** Through fairgate (in process), the actor path from the identity the edge hands over. */
export function throughFairgate(name: string, frontend: Frontend, path: string, tenant: string): Way {
  return {
    name,
    ask: (actor, params, signal) => {
      const identity = { subject: actor, tenants: [tenant], actorPath: `users|${actor}`, scopes: [] };
      const req = new Request(`http://fairgate${path}?${new URLSearchParams(params)}`, { signal });
      return timed(async () => frontend.app.fetch(req, { identity }));
    },
    close: async () => frontend.close(),
  };
}

/** The queries of a bench; every function makes a distinct query (a marker in its text) so no cache answers it. */
export interface Workload {
  /** A short query of a light user (one hour). */
  light(): Params;
  /** One query of the flood (seven days). */
  heavy(): Params;
  /** The two users of the cost case: `dear` costs about 10× `cheap` in querier time. */
  dear(): Params;
  cheap(): Params;
  /** A 7-day query with this marker (the same marker twice is the same query: warm). */
  week(marker: string): Params;
  /**
   * Querier time of the dear and the cheap user's queries that ended in [fromMs, toMs] (epoch ms), when the
   * queriers say it; otherwise the bench estimates it from completed queries and their cost alone.
   */
  querierTime?(fromMs: number, toMs: number): { dear: number; cheap: number };
}

export interface Settings {
  flood: number;
  lightRuns: number;
  lightTimeoutMs: number;
  costWindowMs: number;
  /** Queries each of the two cost users keeps running: enough that both always have pieces queued. */
  costLoops: number;
  coldRuns: number;
  /** Epoch ms after which nothing new starts. */
  deadline: number;
}

export interface Figures {
  idle_ms: number;
  light_ms: number;
  light_ratio: number;
  /** The light user's wait was cut off: its figures are lower bounds. */
  cut_off: boolean;
  jain: number;
  dear_ms: number;
  cheap_ms: number;
  cold_ms: number;
  warm_ms: number;
}

const round = (n: number, d = 1) => Number(n.toFixed(d));

/** The settings both benches run with; BENCH_FLOOD, BENCH_COST_WINDOW_MS, BENCH_COST_LOOPS, BENCH_DEADLINE_MS. */
export function benchSettings(t0: number): Settings {
  return {
    flood: Number(process.env.BENCH_FLOOD ?? 40),
    lightRuns: 5,
    lightTimeoutMs: 15_000,
    costWindowMs: Number(process.env.BENCH_COST_WINDOW_MS ?? 8000),
    costLoops: Number(process.env.BENCH_COST_LOOPS ?? 12),
    coldRuns: 2,
    deadline: t0 + Number(process.env.BENCH_DEADLINE_MS ?? 225_000),
  };
}

/** The light user's sequential queries; a query cut off at the timeout counts as the timeout, and ends the runs. */
async function lightRuns(way: Way, w: Workload, s: Settings): Promise<{ ms: number[]; cutOff: boolean }> {
  const ms: number[] = [];
  for (let i = 0; i < s.lightRuns && Date.now() < s.deadline; i++) {
    const m = await way.ask("light", w.light(), AbortSignal.timeout(s.lightTimeoutMs)).catch((e: unknown) => {
      if ((e as Error).name === "TimeoutError") return undefined;
      throw e;
    });
    if (m === undefined) return { ms: [...ms, s.lightTimeoutMs], cutOff: true };
    ms.push(m);
  }
  return { ms, cutOff: false };
}

/** Until the queriers have nothing left of an earlier case (a light query straight at them is fast again). */
async function drain(probe: Way, w: Workload, idleMs: number, s: Settings): Promise<void> {
  for (let i = 0; i < 120 && Date.now() < s.deadline; i++) {
    const m = await probe.ask("probe", w.light()).catch(() => undefined);
    if (m !== undefined && m < Math.max(3 * idleMs, 50)) return;
    await sleep(250);
  }
}

/** Each kind's querier time alone, straight at a querier: median of 5, after one of each. */
export async function calibrate(probe: Way, w: Workload): Promise<{ dear: number; cheap: number }> {
  await probe.ask("calibrate", w.dear());
  await probe.ask("calibrate", w.cheap());
  const dear: number[] = [];
  const cheap: number[] = [];
  for (let i = 0; i < 5; i++) {
    dear.push(await probe.ask("calibrate", w.dear()));
    cheap.push(await probe.ask("calibrate", w.cheap()));
  }
  return { dear: median(dear), cheap: median(cheap) };
}

/**
 * Every measurement for one way, in order: idle, flood, cost, cold and warm. `probe` goes straight at the queriers
 * (draining between cases); `cost` is each kind's querier time alone, for the estimate when the queriers say none.
 */
export async function measure(
  way: Way,
  probe: Way,
  w: Workload,
  cost: { dear: number; cheap: number },
  s: Settings,
): Promise<Figures> {
  // Idle: one first query not counted (connections, loading), then the median of the runs.
  await lightRuns(way, w, { ...s, lightRuns: 1 });
  const idle = median((await lightRuns(way, w, s)).ms);

  // Flood: the heavy user's queries all at once, the light user after a head start.
  const flood = new AbortController();
  const floods = Array.from({ length: s.flood }, () => way.ask("heavy", w.heavy(), flood.signal).catch(() => 0));
  await sleep(1500);
  const light = await lightRuns(way, w, s);
  flood.abort(new Error("case over"));
  await Promise.allSettled(floods);
  await drain(probe, w, idle, s);
  const lightMs = median(light.ms);

  // Cost: `costLoops` queries of each user always running, for the window.
  const from = Date.now();
  const stopAt = from + s.costWindowMs;
  const done = { dear: 0, cheap: 0 };
  const stop = new AbortController();
  const loop = async (actor: "dear" | "cheap") => {
    for (let i = 0; i < 10_000 && Date.now() < stopAt && Date.now() < s.deadline; i++)
      if (await way.ask(actor, actor === "dear" ? w.dear() : w.cheap(), stop.signal).catch(() => undefined))
        done[actor]++;
  };
  const loops = Array.from({ length: s.costLoops }, () => [loop("dear"), loop("cheap")]).flat();
  await sleep(s.costWindowMs);
  const to = Date.now();
  stop.abort(new Error("case over"));
  await Promise.allSettled(loops);
  await sleep(300); // queriers write their log lines as sub-queries end
  const t = w.querierTime?.(from, to) ?? { dear: done.dear * cost.dear, cheap: done.cheap * cost.cheap };
  await drain(probe, w, idle, s);

  // Cold and warm: a distinct 7-day query, then the same again (the second warm run counts).
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < s.coldRuns && Date.now() < s.deadline; i++) {
    const marker = `week-${way.name.length}-${i}-${Date.now()}`;
    cold.push(await way.ask("week", w.week(marker)));
    await way.ask("week", w.week(marker));
    warm.push(await way.ask("week", w.week(marker)));
  }
  return {
    idle_ms: round(idle),
    light_ms: round(lightMs),
    light_ratio: round(lightMs / idle, 2),
    cut_off: light.cutOff,
    jain: round(jain([t.dear, t.cheap]), 3),
    dear_ms: round(t.dear),
    cheap_ms: round(t.cheap),
    cold_ms: round(median(cold)),
    warm_ms: round(median(warm)),
  };
}

const verdict = (ok: boolean) => (ok ? "MET" : "NOT MET");

/** Prints the ways side by side and the targets, and returns what BENCH_JSON reports. */
export function report(
  bench: string,
  figures: Record<string, Figures>,
  keys: { own: string; fairgate: string },
  notes: string[],
  t0: number,
): Record<string, unknown> {
  const cols: (keyof Figures)[] = ["idle_ms", "light_ms", "light_ratio", "jain", "cold_ms", "warm_ms"];
  console.log(`\n${"way".padEnd(44)}${cols.map((c) => c.padStart(12)).join("")}`);
  for (const [name, f] of Object.entries(figures))
    console.log(
      `${name.padEnd(44)}${cols.map((c) => String(f[c]).padStart(12)).join("")}${f.cut_off ? "  (light cut off)" : ""}`,
    );
  for (const n of notes) console.log(n);
  const own = figures[keys.own];
  const gate = figures[keys.fairgate];
  const targets = {
    jain: !!gate && gate.jain >= 0.95,
    light_ratio: !!gate && !gate.cut_off && gate.light_ratio <= 1.2,
    cold_vs_own: !!gate && !!own && gate.cold_ms <= 1.1 * own.cold_ms,
    warm_vs_own: !!gate && !!own && gate.warm_ms <= own.warm_ms,
  };
  console.log(`\ntargets (${keys.fairgate}):`);
  console.log(`  Jain's index over querier time at 10:1 ≥ 0.95: ${gate?.jain}  ${verdict(targets.jain)}`);
  console.log(`  light ÷ idle under the flood ≤ 1.2: ${gate?.light_ratio}  ${verdict(targets.light_ratio)}`);
  console.log(
    `  cold 7d ≤ 1.1 × ${keys.own}: ${gate && own ? round(gate.cold_ms / own.cold_ms, 2) : "n/a"}  ` +
      verdict(targets.cold_vs_own),
  );
  console.log(`  warm 7d ≤ ${keys.own}: ${gate?.warm_ms} vs ${own?.warm_ms} ms  ${verdict(targets.warm_vs_own)}`);
  return { bench, ways: figures, targets_met: targets, seconds: round((Date.now() - t0) / 1000) };
}

export interface QueriersBench {
  /** loki-queriers: BENCH_JSON's name. */
  bench: string;
  /** The shipped example fairgate runs as (config/examples/NAME). */
  example: string;
  /** The product's own frontend+scheduler: its way's name and URL. */
  own: { name: string; url: string };
  querierUrls: string[];
  /** The query_range path, the same at the queriers, the product's frontend and fairgate. */
  path: string;
  tenant: string;
  workload: Workload;
  /** fairgate variants (unless BENCH_VARIANTS=0): the example but for these querier settings and limits. */
  variants: { name: string; querier?: Record<string, unknown>; limits?: Record<string, unknown> }[];
  settings: Settings;
  /** Lines under the table: the setup, and how querier time was taken; `costRatio` is dear ÷ cheap alone. */
  notes(costRatio: number): string[];
  t0: number;
}

/** Calibrates, measures every way in turn (skipping those the deadline leaves no room for), reports. */
export async function runQueriersBench(b: QueriersBench): Promise<void> {
  const probe = straight(b.querierUrls, b.path, b.tenant);
  const fairgate = (name: string, querier?: Record<string, unknown>, limits?: Record<string, unknown>) => () =>
    throughFairgate(name, exampleFrontend(b.example, b.querierUrls, querier, limits), b.path, b.tenant);
  const ways: [string, () => Way][] = [
    ["straight", () => probe],
    [b.own.name, () => ownFrontend(b.own.name, b.own.url, b.path, b.tenant)],
    ["fairgate", fairgate("fairgate")],
    ...(process.env.BENCH_VARIANTS === "0" ? [] : b.variants).map((v): [string, () => Way] => [
      v.name,
      fairgate(v.name, v.querier, v.limits),
    ]),
  ];
  const cost = await calibrate(probe, b.workload);
  const figures: Record<string, Figures> = {};
  for (const [name, make] of ways) {
    if (b.settings.deadline - Date.now() < 35_000) {
      console.error(`${name}: skipped, too little time left`);
      continue;
    }
    const way = make();
    figures[name] = await measure(way, probe, b.workload, cost, b.settings);
    if (way !== probe) await way.close();
    console.error(`${name}: ${JSON.stringify(figures[name])}`);
  }
  const costRatio = round(cost.dear / cost.cheap);
  const json = report(b.bench, figures, { own: b.own.name, fairgate: "fairgate" }, b.notes(costRatio), b.t0);
  console.log(`BENCH_JSON ${JSON.stringify({ ...json, cost_ratio: costRatio })}`);
}
