import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend } from "../../src/frontend/app.js";
import { generateHistory, type History, lokiOrSkip, pushHistory, startLoki, type TestLoki } from "../support/loki.js";
import { startMemcached, type TestMemcached } from "../support/memcached.js";

// fairgate in front of a real Loki 3.4.6, compared with Loki's own answers to the same requests:
// cold (empty cache), warm (the same again), partial (the range moved forward, partly cached) and
// after a restart of fairgate (a new frontend on the same memcached). Seven days of generated logs
// for two tenants end when the suite starts.

const LOKI = lokiOrSkip("Loki conformance (test/integration/loki-conformance.test.ts)");

const MIN = 60;
const HOUR = 3600;
const DAY = 86_400;

type State = "cold" | "warm" | "partial" | "restart";
const STATES: State[] = ["cold", "warm", "partial", "restart"];

interface Case {
  name: string;
  route: string;
  tenant: string;
  params: Record<string, string | string[]>;
  /** Log queries: which pushed entries the query selects (the truth Loki's own answer is checked against). */
  selects?: (e: History["entries"][string][number]) => boolean;
  /**
   * count_over_time queries: the series (a key from its labels) an entry counts in, or undefined; the
   * truth Loki's own answer is checked against.
   */
  counts?: {
    rangeSeconds: number;
    key: (labels: Record<string, string>) => string;
    selects: (e: History["entries"][string][number]) => boolean;
  };
  /**
   * Requests asked at the same time for the same query and day share one results-cache entry, and the
   * last write wins: such an answer may not be cached afterwards (it must still be right).
   */
  sharedEntry?: boolean;
  /** Sent as a POST form (Grafana's default) rather than a GET. */
  post?: boolean;
  /** topk: ties may pick different series, so values are compared per timestamp. */
  ties?: boolean;
  headers?: Record<string, string>;
  /** Seconds the partial state moves start and end forward. */
  move?: number;
}

interface Answer {
  status: number;
  contentType: string | null;
  cache: string | null;
  text: string;
}

/** Relative difference allowed between two numbers (sums over splits and shards may round differently). */
const REL = 1e-9;

const sameNumber = (a: string, b: string) => {
  if (a === b) return true;
  const x = Number(a);
  const y = Number(b);
  return Number.isFinite(x) && Number.isFinite(y) && Math.abs(x - y) <= REL * Math.max(Math.abs(x), Math.abs(y));
};

const labelsKey = (l: Record<string, string>) => JSON.stringify(Object.entries(l).sort(([a], [b]) => (a < b ? -1 : 1)));

/** Arrays sorted by their elements' JSON, objects by key, everywhere: for answers whose order Loki does not fix. */
const canonical = (x: unknown): unknown => {
  if (Array.isArray(x)) return x.map(canonical).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  if (x && typeof x === "object")
    return Object.fromEntries(
      Object.entries(x)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, canonical(v)]),
    );
  return x;
};

type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

/** Differences between two matrices: series, timestamps, and values at relative 1e-9. */
function matrixDiff(want: Matrix, got: Matrix, ties: boolean): string[] {
  const out: string[] = [];
  if (ties) {
    // topk: per timestamp, the multiset of values.
    const perTs = (m: Matrix) => {
      const by = new Map<number, string[]>();
      for (const s of m) for (const [t, v] of s.values) by.set(t, [...(by.get(t) ?? []), v]);
      for (const vs of by.values()) vs.sort((a, b) => Number(a) - Number(b));
      return by;
    };
    const [w, g] = [perTs(want), perTs(got)];
    for (const [t, vs] of w) {
      const gs = g.get(t);
      if (!gs || gs.length !== vs.length || vs.some((v, i) => !sameNumber(v, gs[i]!)))
        out.push(`at ${t}: want ${vs.join(",")}, got ${gs?.join(",") ?? "nothing"}`);
    }
    for (const t of g.keys()) if (!w.has(t)) out.push(`at ${t}: unexpected ${g.get(t)!.join(",")}`);
    return out;
  }
  const byKey = new Map(got.map((s) => [labelsKey(s.metric), s]));
  for (const s of want) {
    const key = labelsKey(s.metric);
    const g = byKey.get(key);
    byKey.delete(key);
    if (!g) {
      out.push(`missing series ${key} (${s.values.length} samples)`);
      continue;
    }
    const gv = new Map(g.values.map(([t, v]) => [t, v]));
    const missing = s.values.filter(([t]) => !gv.has(t)).map(([t]) => t);
    const wanted = new Set(s.values.map(([t]) => t));
    const extra = g.values.filter(([t]) => !wanted.has(t)).map(([t]) => t);
    const wrong = s.values.filter(([t, v]) => gv.has(t) && !sameNumber(v, gv.get(t)!));
    if (missing.length) out.push(`${key}: ${missing.length} samples missing, at ${missing.slice(0, 5).join(", ")}`);
    if (extra.length) out.push(`${key}: ${extra.length} extra samples, at ${extra.slice(0, 5).join(", ")}`);
    if (wrong.length)
      out.push(
        `${key}: ${wrong.length} values differ, first at ${wrong[0]![0]}: ${wrong[0]![1]} vs ${gv.get(wrong[0]![0])}`,
      );
  }
  for (const key of byKey.keys()) out.push(`extra series ${key}`);
  return out;
}

/** What differs between Loki's answer and fairgate's, as readable lines (none when they agree). */
function differences(c: Case, want: Answer, got: Answer): string[] {
  const out: string[] = [];
  if (got.status !== want.status) return [`status ${got.status}, Loki ${want.status}: ${got.text.slice(0, 200)}`];
  if (got.contentType !== want.contentType) out.push(`content-type ${got.contentType}, Loki ${want.contentType}`);
  if (want.status !== 200) {
    if (got.text.trim() !== want.text.trim())
      out.push(`error ${got.text.slice(0, 200)}, Loki ${want.text.slice(0, 200)}`);
    return out;
  }
  const [w, g] = [JSON.parse(want.text), JSON.parse(got.text)];
  delete w.data?.stats;
  delete g.data?.stats;
  const type = w.data?.resultType;
  if (type === "matrix") {
    if (g.data?.resultType !== "matrix") return [...out, `resultType ${g.data?.resultType}`];
    out.push(...matrixDiff(w.data.result, g.data.result, c.ties ?? false));
    w.data.result = g.data.result = [];
  } else if (type === "streams") {
    const sortStreams = (x: { data: { result: { stream: Record<string, string> }[] } }) =>
      x.data.result.sort((a, b) => (labelsKey(a.stream) < labelsKey(b.stream) ? -1 : 1));
    sortStreams(w);
    sortStreams(g);
  }
  // Loki does not fix the order of series and detected_* answers.
  const [cw, cg] = [JSON.stringify(canonical(w)), JSON.stringify(canonical(g))];
  if (cw !== cg) out.push(`body ${cg.slice(0, 300)}\n   Loki ${cw.slice(0, 300)}`);
  return out;
}

const body = (a: Answer): unknown => {
  if (a.status !== 200) return a.text;
  const parsed = JSON.parse(a.text);
  delete parsed.data?.stats;
  return canonical(parsed);
};

/** Deep equality where numbers (and numeric strings, as Loki writes volumes) may differ by at most `by`. */
function nearlyEqual(a: unknown, b: unknown, by: number): boolean {
  const num = (x: unknown) =>
    typeof x === "number" ? x : typeof x === "string" && /^-?\d+(\.\d+)?$/.test(x) ? Number(x) : undefined;
  const [na, nb] = [num(a), num(b)];
  if (na !== undefined && nb !== undefined) return Math.abs(na - nb) <= by;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => nearlyEqual(x, b[i], by));
  if (a && b && typeof a === "object" && typeof b === "object") {
    const [ka, kb] = [Object.keys(a).sort(), Object.keys(b).sort()];
    const [ra, rb] = [a as Record<string, unknown>, b as Record<string, unknown>];
    return ka.join() === kb.join() && ka.every((k) => nearlyEqual(ra[k], rb[k], by));
  }
  return a === b;
}

/** Runs f over items, four at a time. */
async function inParallel<T>(items: T[], f: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await f(items[next++]!);
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

/** The entries of a streams answer, as "ts line", in the answer's order per stream, all streams sorted by time. */
const entriesOf = (a: Answer): string[] =>
  (JSON.parse(a.text).data.result as { values: [string, string][] }[])
    .flatMap((s) => s.values.map(([t, l]) => `${t} ${l}`))
    .sort();

describe.skipIf(!LOKI)("fairgate answers as the real Loki 3.4.6 does, cold, warm, partial and after a restart", () => {
  let loki: TestLoki;
  let mc: TestMemcached;
  let history: History;
  let frontend: Frontend;
  /** Unix seconds of the last pushed entry. */
  let now: number;

  const makeFrontend = () =>
    createFrontend(
      parseConfig({
        frontend: {
          queriers: [{ url: loki.url, max_concurrent: 4 }],
          // A generous deadline: the states under test need the cache to answer, even on a busy machine.
          cache: { backend: "memcached", memcached: { servers: [mc.address], timeout: "2s" } },
        },
      }).frontend!,
      { log: () => {} },
    );

  /** The request: a GET, or a POST form as Grafana sends it when the case says `post`. */
  const request = (base: string, c: Case, params: Case["params"], headers: Record<string, string> = {}) => {
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) form.append(k, one);
    const path = `${base}/loki/api/v1/${c.route}`;
    const all = { ...headers, ...c.headers };
    return c.post
      ? new Request(path, {
          method: "POST",
          headers: { ...all, "content-type": "application/x-www-form-urlencoded" },
          body: form.toString(),
        })
      : new Request(`${path}?${form}`, { headers: all });
  };
  const answer = async (res: Response): Promise<Answer> => ({
    status: res.status,
    contentType: res.headers.get("content-type"),
    cache: res.headers.get("x-fairgate-cache"),
    text: await res.text(),
  });
  const direct = async (c: Case, params: Case["params"]) =>
    answer(await fetch(request(loki.url, c, params, { "x-scope-orgid": c.tenant })));
  const through = async (c: Case, params: Case["params"]) =>
    answer(
      await frontend.app.fetch(request("http://fairgate", c, params), {
        identity: { subject: "s", tenants: [c.tenant], actorPath: "users|conformance", scopes: [] },
      }),
    );

  beforeAll(async () => {
    [loki, mc] = await Promise.all([startLoki({ bin: LOKI }), startMemcached()]);
    history = generateHistory({ days: 7, meanGapSeconds: 240 });
    now = Number(history.endNs / 1_000_000_000n);
    await pushHistory(loki, history);
    frontend = makeFrontend();
  }, 120_000);
  afterAll(async () => {
    frontend?.close();
    await Promise.all([loki?.close(), mc?.close()]);
  });

  /** Seconds as Loki takes them; `off` puts a time off every step grid (ms and odd seconds). */
  const at = (t: number) => String(t);

  const corpus = (): Case[] => {
    const A = "tenant-a";
    const B = "tenant-b";
    const range = (query: string, start: number, end: number, step: number | string) => ({
      query,
      start: at(start),
      end: at(end),
      step: String(step),
    });
    const metric = (
      name: string,
      tenant: string,
      query: string,
      start: number,
      end: number,
      step: number | string,
      extra: Partial<Case> = {},
    ): Case => ({
      name,
      route: "query_range",
      tenant,
      params: range(query, start, end, step),
      ...extra,
    });
    const day = Math.floor(now / DAY) * DAY;
    const week = now - 7 * DAY;
    const cronCounts: Case["counts"] = {
      rangeSeconds: 3600,
      key: (l) => l.level!,
      selects: (e) => e.stream.app === "cron",
    };
    // 6.5 days from 2 h before a UTC midnight: a day split's first piece is about 2 h long.
    const shortFirst = Math.ceil((week + 2 * HOUR) / DAY) * DAY - 2 * HOUR + 1234;
    return [
      // A week at 5 m with start % 300 = 60: warm answers once lost the samples at split boundaries.
      metric(
        "rate, 7d step 5m, start off the grid",
        A,
        'sum(rate({app="api"}[5m]))',
        Math.floor(week / 300) * 300 + 360,
        now - 137,
        300,
      ),
      metric(
        "count_over_time 1h step 1h, a short first day",
        B,
        'sum by (app) (count_over_time({env=~".+"}[1h]))',
        shortFirst,
        Math.min(now, shortFirst + 6.5 * DAY),
        3600,
      ),
      metric(
        "sparse counts per stream, 1h step 1h, a short first day",
        B,
        'count_over_time({app="cron"}[1h])',
        shortFirst,
        Math.min(now, shortFirst + 6.5 * DAY),
        3600,
        { counts: cronCounts },
      ),
      metric(
        "sparse counts, 2d step 5m",
        A,
        'sum by (level) (count_over_time({app="cron"}[10m]))',
        now - 2 * DAY + 99,
        now - 99,
        300,
        { counts: { ...cronCounts!, rangeSeconds: 600 } },
      ),
      // Loki 3.4.6 merges the step-long sub-ranges of a query with step >= 1h in an order that can
      // put a later one first, which can lose the first step of a sparse series: two-hour ranges,
      // one per hour (see pipeline/lead-step.ts).
      ...Array.from({ length: 24 }, (_, h) =>
        metric(
          `sparse counts over 2 h, step 1h, hour ${h}`,
          h % 2 ? A : B,
          'count_over_time({app="cron"}[1h])',
          day - DAY + h * HOUR + 17,
          day - DAY + (h + 2) * HOUR,
          3600,
          { counts: cronCounts, sharedEntry: true },
        ),
      ),
      metric(
        "bytes_over_time, 2d step 10m",
        B,
        'bytes_over_time({app="worker", level="error"}[10m])',
        now - 2 * DAY - 321,
        now - 5 * MIN,
        600,
      ),
      metric(
        "sum by level rate with a line filter, 6h step 1m",
        A,
        'sum by (level) (rate({env=~".+"} |= "GET" [2m]))',
        now - 6 * HOUR - 17.5,
        now - 3 * MIN,
        60,
      ),
      metric(
        "topk, 3d step 15m",
        B,
        'topk(2, sum by (app, level) (count_over_time({env=~".+"}[30m])))',
        now - 3 * DAY + 111,
        now,
        900,
        { ties: true },
      ),
      metric(
        "quantile_over_time unwrap, 1d step 5m",
        A,
        'quantile_over_time(0.9, {app="api"} | logfmt | unwrap duration [15m]) by (level)',
        day - DAY + 7,
        now - 61,
        300,
      ),
      metric(
        "max_over_time unwrap, 4d step 1h",
        B,
        'max_over_time({app="api"} | logfmt | unwrap duration [1h]) by (app)',
        now - 4 * DAY - 59,
        now - HOUR,
        3600,
      ),
      metric(
        "offset, 12h step 2m",
        A,
        'sum(count_over_time({app="api"}[5m] offset 1h))',
        now - 12 * HOUR - 45,
        now - 11,
        120,
      ),
      metric(
        "absent_over_time of a missing stream, 1d step 5m",
        A,
        'absent_over_time({app="nope"}[5m])',
        now - DAY - 3,
        now - 9,
        300,
      ),
      metric(
        "absent_over_time with gaps, 3h step 1m",
        B,
        'absent_over_time({app="api", level="error"}[1m])',
        now - 3 * HOUR + 29,
        now - 2,
        60,
      ),
      metric(
        "binary operation: error ratio, 2d step 5m",
        A,
        'sum(rate({level="error"}[5m])) / sum(rate({env=~".+"}[5m]))',
        now - 2 * DAY + 250,
        now - 35,
        300,
        { post: true },
      ),
      metric(
        "binary operation with scalars, 1d step 30m",
        B,
        'sum by (app) (count_over_time({level="warn"}[10m])) * 2 + 1',
        now - DAY - 1,
        now,
        1800,
      ),
      metric(
        "status from logfmt, 7d step 30m",
        A,
        'sum by (status) (count_over_time({app="web"} | logfmt | status >= 400 [1h]))',
        week,
        now,
        1800,
      ),
      metric(
        "step 1s over 10 minutes",
        B,
        'sum by (app) (count_over_time({env=~".+"}[1m]))',
        now - 2 * HOUR - 0.25,
        now - 110 * MIN - 0.25,
        1,
      ),
      metric(
        "step 15s over 20 minutes ending now",
        A,
        'sum(count_over_time({level="info"}[1m]))',
        now - 20 * MIN + 3,
        now + 2,
        "15s",
      ),
      metric("rate over 7d step 1h", B, 'sum by (level) (rate({app="worker"}[1h]))', week - 1800, now + 600, "1h"),
      metric(
        "count over a whole day's range vector, 3d step 1h",
        A,
        'sum(count_over_time({app="web"}[1d]))',
        now - 3 * DAY + 13,
        now - 13,
        3600,
      ),
      metric(
        "a tenant with no data",
        "tenant-empty",
        'sum by (app) (count_over_time({env="prod"}[1h]))',
        now - 3 * DAY,
        now,
        3600,
      ),
      // Log queries, at limits that cut across streams and splits.
      {
        name: "log backward, limit 200 over 1 day, several streams",
        route: "query_range",
        tenant: A,
        params: {
          query: '{app="api"}',
          start: at(now - DAY - 17),
          end: at(now - 2 * HOUR + 0.5),
          limit: "200",
          direction: "backward",
        },
        selects: (e) => e.stream.app === "api",
      },
      {
        name: "log forward with a line filter, limit 150 over 6 hours",
        route: "query_range",
        tenant: B,
        params: {
          query: '{app="web"} |= "GET"',
          start: at(now - 6 * HOUR - 0.123),
          end: at(now),
          limit: "150",
          direction: "forward",
        },
        post: true,
        selects: (e) => e.stream.app === "web" && e.line.includes("GET"),
      },
      {
        name: "log backward over every stream, limit 1000 over 3 hours",
        route: "query_range",
        tenant: A,
        params: {
          query: '{env=~".+"}',
          start: at(now - 3 * HOUR),
          end: at(now + 1),
          limit: "1000",
          direction: "backward",
        },
        selects: () => true,
      },
      {
        name: "log forward with a logfmt filter, limit 50 over 7 days",
        route: "query_range",
        tenant: B,
        params: {
          query: '{app="worker", level="error"} | logfmt | status=503',
          start: at(week - 60),
          end: at(now),
          limit: "50",
          direction: "forward",
        },
        selects: (e) => e.stream.app === "worker" && e.stream.level === "error" && e.line.includes("status=503"),
      },
      {
        name: "log backward with the default limit over 30 minutes, categorize-labels",
        route: "query_range",
        tenant: A,
        params: { query: '{level="warn"}', start: at(now - 30 * MIN - 7), end: at(now - 10) },
        selects: (e) => e.stream.level === "warn",
        headers: { "x-loki-response-encoding-flags": "categorize-labels" },
      },
      // Instant queries.
      {
        name: "instant count_over_time",
        route: "query",
        tenant: B,
        params: { query: 'sum by (level) (count_over_time({env=~".+"}[6h]))', time: at(now - HOUR) },
      },
      // Metadata and index routes.
      {
        name: "labels over 2 days, POST",
        route: "labels",
        tenant: A,
        params: { start: at(now - 2 * DAY), end: at(now) },
        post: true,
      },
      {
        name: "label values over 7 days",
        route: "label/app/values",
        tenant: B,
        params: { start: at(week), end: at(now) },
      },
      {
        name: "label values with a query",
        route: "label/level/values",
        tenant: A,
        params: { start: at(now - DAY), end: at(now), query: '{app="api"}' },
      },
      {
        name: "series over 3 days",
        route: "series",
        tenant: B,
        params: { "match[]": '{app="api"}', start: at(now - 3 * DAY + 99), end: at(now) },
      },
      {
        name: "series of two matchers",
        route: "series",
        tenant: A,
        params: { "match[]": ['{level="error"}', '{app="web"}'], start: at(now - DAY), end: at(now) },
      },
      {
        name: "index/stats over 5 days",
        route: "index/stats",
        tenant: A,
        params: { query: '{app="api"}', start: at(now - 5 * DAY), end: at(now) },
      },
      {
        name: "index/volume over 2 days",
        route: "index/volume",
        tenant: B,
        params: { query: '{env=~".+"}', start: at(now - 2 * DAY), end: at(now), limit: "5" },
      },
      {
        name: "index/volume_range by app",
        route: "index/volume_range",
        tenant: A,
        params: { query: '{env=~".+"}', start: at(now - DAY), end: at(now), step: "3600", targetLabels: "app" },
      },
      {
        name: "detected_labels",
        route: "detected_labels",
        tenant: A,
        params: { query: '{env=~".+"}', start: at(now - DAY), end: at(now) },
      },
      {
        name: "detected_fields",
        route: "detected_fields",
        tenant: B,
        params: { query: '{app="api"}', start: at(now - 6 * HOUR), end: at(now) },
      },
      {
        name: "detected_field values",
        route: "detected_field/status/values",
        tenant: A,
        params: { query: '{app="web"}', start: at(now - 6 * HOUR), end: at(now) },
      },
    ];
  };

  /** The partial state's parameters: start and end moved forward (by whole seconds, off the step grid). */
  const moved = (c: Case): Case["params"] => {
    const shift = c.move ?? 437;
    const p = { ...c.params };
    for (const k of ["start", "end", "time"]) if (typeof p[k] === "string") p[k] = String(Number(p[k]) + shift);
    return p;
  };

  /**
   * The truth of a log query, from the pushed entries: "ts line" of the `limit` entries nearest the query's end
   * (backward) or start.
   */
  const truth = (c: Case, params: Case["params"]): string[] => {
    const [startNs, endNs] = ["start", "end"].map((k) => BigInt(Math.round(Number(params[k]) * 1e3)) * 1_000_000n) as [
      bigint,
      bigint,
    ];
    const limit = Number(params.limit ?? 100);
    const all = history.entries[c.tenant]!.filter((e) => e.tsNs >= startNs && e.tsNs < endNs && c.selects!(e));
    const picked = params.direction === "forward" ? all.slice(0, limit) : all.slice(-limit);
    return picked.map((e) => `${e.tsNs} ${e.line}`).sort();
  };

  /**
   * Differences from the true counts, from the pushed entries: per series, at every step of the range
   * Loki evaluates (start rounded down, end rounded up to the step grid), the entries in (t − range, t].
   */
  const countErrors = (c: Case, params: Case["params"], a: Answer): string[] => {
    const { rangeSeconds, key, selects } = c.counts!;
    const step = Number(params.step);
    const from = Math.floor(Number(params.start) / step) * step;
    const to = Math.ceil(Number(params.end) / step) * step;
    const got = new Map<string, Map<number, string>>();
    for (const s of JSON.parse(a.text).data.result as Matrix) got.set(key(s.metric), new Map(s.values));
    const picked = history.entries[c.tenant]!.filter(selects);
    const out: string[] = [];
    for (let t = from; t <= to; t += step) {
      const [lo, hi] = [BigInt(t - rangeSeconds) * 1_000_000_000n, BigInt(t) * 1_000_000_000n];
      const want = new Map<string, number>();
      for (const e of picked)
        if (e.tsNs > lo && e.tsNs <= hi) want.set(key(e.stream), (want.get(key(e.stream)) ?? 0) + 1);
      for (const k of new Set([...want.keys(), ...got.keys()])) {
        const [w, g] = [want.get(k), got.get(k)?.get(t)];
        if (String(w) !== String(g)) out.push(`${k} at ${t}: ${g ?? "no sample"}, truly ${w ?? "none"}`);
      }
    }
    return out;
  };

  it("answers every corpus request as Loki does, in every state", async () => {
    const cases = corpus();
    const found: string[] = [];
    const lokiWrong: string[] = [];
    let compared = 0;
    const unstable: string[] = [];
    const check = async (c: Case, state: State, params: Case["params"], want: Answer, got: Answer) => {
      compared++;
      const what = `${c.name} [${state}]`;
      // Warm and after a restart, metric answers come from the cache (all of it, or all but the fresh tail).
      const cached = state === "warm" || state === "restart";
      if (
        cached &&
        c.route === "query_range" &&
        !c.selects &&
        !c.sharedEntry &&
        got.status === 200 &&
        got.cache === "miss"
      )
        found.push(`${what}: not served from the cache`);
      if (c.selects && want.status === 200 && got.status === 200) {
        // Log queries: fairgate must give the true entries; Loki 3.4.6 sometimes does not.
        const t = truth(c, params);
        const [l, f] = [entriesOf(want), entriesOf(got)];
        const fairgateRight = JSON.stringify(f) === JSON.stringify(t);
        const lokiRight = JSON.stringify(l) === JSON.stringify(t);
        if (!fairgateRight)
          found.push(`${what}: fairgate's entries are not the true ones (${f.length} vs ${t.length})`);
        if (!lokiRight) {
          lokiWrong.push(`${what}: Loki's entries are not the true ones; fairgate's are`);
          return;
        }
      }
      if (c.counts && want.status === 200 && got.status === 200) {
        const [l, f] = [countErrors(c, params, want), countErrors(c, params, got)];
        for (const e of f) found.push(`${what}: fairgate's count ${e}`);
        if (l.length)
          return void lokiWrong.push(`${what}: Loki's count ${l[0]}${f.length ? "" : "; fairgate's are right"}`);
      }
      const diff = differences(c, want, got);
      // Loki's answer may change with time (index stats of chunks being flushed): ask it again.
      const now = diff.length ? await direct(c, params) : want;
      if (diff.length && differences(c, now, got).length === 0) return void unstable.push(`${what}: ${diff[0]}`);
      // Index stats and volumes are Loki's estimates from chunk sizes, which move by a byte or two as its
      // ingester cuts and flushes chunks between Loki's answer and fairgate's pieces (seen once even cold, on a
      // busy machine), and a piece cached a minute ago may hold the earlier figure (as in Loki's own results
      // cache). They must be within 2 of every number of Loki's answer before or after fairgate's; each such case
      // is reported. Everything else must match exactly.
      const near = (loki: Answer) => nearlyEqual(body(loki), body(got), 2);
      if (diff.length && c.route.startsWith("index/") && (near(want) || near(now)))
        return void unstable.push(`${what} (an estimate from chunk sizes): ${diff[0]}`);
      for (const d of diff) found.push(`${what}: ${d}`);
    };

    // Loki's answers first, then fairgate's, state by state (a few requests at a time, as a
    // dashboard sends them).
    await mc.flushAll();
    const wants = new Map<Case, { base: Answer; moved: Answer }>();
    await inParallel(cases, async (c) =>
      wants.set(c, { base: await direct(c, c.params), moved: await direct(c, moved(c)) }),
    );
    for (const state of STATES) {
      if (state === "restart") {
        frontend.close();
        frontend = makeFrontend();
      }
      await inParallel(cases, async (c) => {
        const params = state === "partial" ? moved(c) : c.params;
        const want = state === "partial" ? wants.get(c)!.moved : wants.get(c)!.base;
        await check(c, state, params, want, await through(c, params));
      });
    }
    console.log(`${cases.length} requests x ${STATES.length} states compared with Loki; ${found.length} differences`);
    if (lokiWrong.length) console.log(`Loki 3.4.6 was wrong where fairgate was right:\n  ${lokiWrong.join("\n  ")}`);
    if (unstable.length) console.log(`Loki changed its own answer meanwhile:\n  ${unstable.join("\n  ")}`);
    expect(found).toEqual([]);
    expect(compared).toBe(cases.length * STATES.length);
  }, 300_000); // about 30 s on an idle machine; Loki's queries slow down a lot on a busy one
});
