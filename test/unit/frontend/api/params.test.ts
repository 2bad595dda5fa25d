import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, type Limits } from "../../../../src/config/schema.js";
import { defaultStepMs, isLogQuery, lokiCodec } from "../../../../src/frontend/api/loki.js";
import { one, readParams } from "../../../../src/frontend/api/params.js";
import { pinStartEnd, prometheusCodec } from "../../../../src/frontend/api/prometheus.js";
import type { Params } from "../../../../src/frontend/types.js";
import { ApiError } from "../../../../src/http/errors.js";

const S = 1_000_000_000n;
const HOUR = 3600n * S;
// 2026-11-22T00:00:00Z
const NOW = 1_795_305_600n * S;
const NOW_S = "1795305600";
const LOG = '{app="api"} |= "status=500"';
const METRIC = 'sum by (app) (count_over_time({env="prod"}[1h]))';
const PROMQL = "sum(rate(http_requests_total[5m]))";
const limits = (over: Partial<Limits> = {}): Limits => ({ ...DEFAULT_LIMITS, ...over });

/** Runs fn, expecting an ApiError 400 (bad_data) whose message matches `message`. */
function expect400(fn: () => unknown, message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, "expected an ApiError").toBeInstanceOf(ApiError);
  expect((err as ApiError).status).toBe(400);
  expect((err as ApiError).kind).toBe("bad_data");
  expect((err as ApiError).message).toMatch(message);
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const loki = (route: string, params: Params, l = limits()) => lokiCodec.parse(route, params, NOW, l);
const prom = (route: string, params: Params, l = limits()) => prometheusCodec.parse(route, params, NOW, l);
const secs = (n: bigint) => (NOW / S + n).toString();

describe("lokiCodec.parse: bad parameters answer 400 naming the parameter", () => {
  const range = { start: secs(-3600n), end: NOW_S };
  it.each<[string, string, Params, RegExp]>([
    ["missing query", "query_range", { ...range }, /"query"/],
    ["empty query", "query_range", { ...range, query: "" }, /"query"/],
    ["unparseable start (log)", "query_range", { query: LOG, start: "yesterday", end: NOW_S }, /"start".*yesterday/],
    ["unparseable end (log)", "query_range", { query: LOG, start: secs(-60n), end: "2026-11-22" }, /"end"/],
    ["unparseable start (metric)", "query_range", { query: METRIC, start: "abc", end: NOW_S }, /"start"/],
    ["unparseable end (metric)", "query_range", { query: METRIC, start: secs(-60n), end: "abc" }, /"end"/],
    ["unparseable step (metric)", "query_range", { query: METRIC, ...range, step: "fast" }, /"step"/],
    ["negative step (metric)", "query_range", { query: METRIC, ...range, step: "-15" }, /step/],
    [
      "zero step (metric)",
      "query_range",
      { query: METRIC, ...range, step: "0" },
      /zero or negative query resolution step/,
    ],
    ["zero step as a duration (metric)", "query_range", { query: METRIC, ...range, step: "0s" }, /zero or negative/],
    [
      "end before start (log)",
      "query_range",
      { query: LOG, start: NOW_S, end: secs(-1n) },
      /end timestamp must not be before/,
    ],
    [
      "end equal to start (log)",
      "query_range",
      { query: LOG, start: NOW_S, end: NOW_S },
      /end timestamp must not be before or equal/,
    ],
    [
      "end before start (metric)",
      "query_range",
      { query: METRIC, start: NOW_S, end: secs(-1n) },
      /end timestamp must not be before/,
    ],
    [
      "too many points",
      "query_range",
      { query: METRIC, start: secs(-11_001n), end: NOW_S, step: "1" },
      /exceeded maximum resolution of 11,000 points.*step/,
    ],
    ["limit not a number", "query_range", { query: LOG, ...range, limit: "many" }, /"limit"/],
    ["limit zero", "query_range", { query: LOG, ...range, limit: "0" }, /"limit"/],
    ["limit negative", "query_range", { query: LOG, ...range, limit: "-5" }, /"limit"/],
    ["limit fractional", "query_range", { query: LOG, ...range, limit: "1.5" }, /"limit"/],
    [
      "limit above max_entries_limit_per_query",
      "query_range",
      { query: LOG, ...range, limit: "5001" },
      /limit.*max_entries_limit_per_query \(5001 > 5000\)/,
    ],
    ["bad direction", "query_range", { query: LOG, ...range, direction: "sideways" }, /"direction".*sideways/],
    ["bad since", "query_range", { query: LOG, since: "a while" }, /"since"/],
    ["negative since", "query_range", { query: LOG, since: "-1h" }, /"since"/],
    ["instant: missing query", "query", {}, /"query"/],
    ["instant: bad time", "query", { query: METRIC, time: "noon" }, /"time"/],
    ["instant: bad limit", "query", { query: LOG, limit: "0" }, /"limit"/],
    ["instant: bad direction", "query", { query: LOG, direction: "up" }, /"direction"/],
    ["labels: bad start", "labels", { start: "x", end: NOW_S }, /"start"/],
    ["labels: bad since", "labels", { since: "x" }, /"since"/],
    [
      "label values: end before start",
      "label/app/values",
      { start: NOW_S, end: secs(-1n) },
      /end timestamp must not be before/,
    ],
    ["series: bad end", "series", { "match[]": LOG, start: secs(-60n), end: "x" }, /"end"/],
    ["index/stats: missing query", "index/stats", { start: secs(-60n), end: NOW_S }, /"query"/],
    ["index/volume: limit zero", "index/volume", { query: '{app="api"}', limit: "0" }, /"limit"/],
    ["index/volume: limit not a number", "index/volume", { query: '{app="api"}', limit: "x" }, /"limit"/],
  ])("%s", (_, route, params, message) => expect400(() => loki(route, params), message));

  // Loki parses and checks `step` for every query_range, log queries included (loghttp.ParseRangeQuery).
  it("unparseable step on a log query", () =>
    expect400(() => loki("query_range", { query: LOG, ...range, step: "fast" }), /"step"/));

  it("max_query_length exceeded, for log, metric and metadata queries", () => {
    const l = limits({ max_query_length: 3_600_000 });
    const twoHours = { start: secs(-7200n), end: NOW_S };
    expect400(
      () => loki("query_range", { query: LOG, ...twoHours }, l),
      /query time range exceeds the limit \(query length: 2h, limit: 1h\)/,
    );
    expect400(() => loki("query_range", { query: METRIC, ...twoHours }, l), /query time range exceeds the limit/);
    expect400(() => loki("labels", twoHours, l), /query time range exceeds the limit/);
    // the default since of labels is 6h: over the limit too
    expect400(() => loki("labels", {}, l), /query time range exceeds the limit/);
    // exactly the limit is fine
    expect(loki("query_range", { query: LOG, start: secs(-3600n), end: NOW_S }, l).kind).toBe("log");
  });

  it("accepts exactly 11,000 points and a limit of exactly max_entries_limit_per_query", () => {
    expect(loki("query_range", { query: METRIC, start: secs(-11_000n), end: NOW_S, step: "1" }).stepMs).toBe(1000);
    expect(loki("query_range", { query: LOG, limit: "5000" }).limit).toBe(5000);
    expect(loki("query_range", { query: LOG, limit: "20" }, limits({ max_entries_limit_per_query: 20 })).limit).toBe(
      20,
    );
    expect400(
      () => loki("query_range", { query: LOG, limit: "21" }, limits({ max_entries_limit_per_query: 20 })),
      /21 > 20/,
    );
  });
});

describe("lokiCodec.parse: good requests", () => {
  it("log query defaults: limit 100, backward, end now, start end − 1h", () => {
    const req = loki("query_range", { query: LOG });
    expect(req).toMatchObject({
      api: "loki",
      kind: "log",
      path: "/loki/api/v1/query_range",
      query: LOG,
      limit: 100,
      direction: "backward",
      startNs: NOW - HOUR,
      endNs: NOW,
    });
    expect(req.stepMs).toBeUndefined();
  });

  it("since sets the start from the end, as a duration or seconds", () => {
    expect(loki("query_range", { query: LOG, since: "2h" }).startNs).toBe(NOW - 2n * HOUR);
    expect(loki("query_range", { query: LOG, since: "7200" }).startNs).toBe(NOW - 2n * HOUR);
    expect(loki("query_range", { query: LOG, since: "30m", end: secs(-3600n) })).toMatchObject({
      startNs: NOW - HOUR - HOUR / 2n,
      endNs: NOW - HOUR,
    });
    // an explicit start wins over since
    expect(loki("query_range", { query: LOG, since: "2h", start: secs(-60n) }).startNs).toBe(NOW - 60n * S);
  });

  it("reads times as ns, seconds, fractional seconds and RFC3339", () => {
    const req = loki("query_range", { query: LOG, start: "2026-11-21T23:00:00+01:00", end: "1795305600000000000" });
    expect(req).toMatchObject({ startNs: NOW - 2n * HOUR, endNs: NOW });
    expect(loki("query_range", { query: LOG, start: "1795302000.5", end: NOW_S }).startNs).toBe(NOW - HOUR + S / 2n);
  });

  it("direction and limit", () => {
    expect(loki("query_range", { query: LOG, direction: "forward", limit: "50" })).toMatchObject({
      direction: "forward",
      limit: 50,
    });
    expect(loki("query_range", { query: LOG, direction: "FORWARD" }).direction).toBe("forward");
  });

  it("metric query: default step is max(floor(range_seconds / 250), 1) s", () => {
    expect(loki("query_range", { query: METRIC }).stepMs).toBe(14_000); // 3600 / 250 = 14.4
    expect(loki("query_range", { query: METRIC, start: secs(-100n), end: NOW_S }).stepMs).toBe(1000);
    expect(loki("query_range", { query: METRIC, start: secs(-3n * 86_400n), end: NOW_S }).stepMs).toBe(1_036_000);
    expect(loki("query_range", { query: METRIC, start: secs(-499n), end: NOW_S }).stepMs).toBe(1000);
    expect(loki("query_range", { query: METRIC, start: secs(-500n), end: NOW_S }).stepMs).toBe(2000);
    expect(defaultStepMs(0n, 0n)).toBe(1000);
  });

  it("metric query: step in seconds or as a duration; kind metric; limit and direction kept", () => {
    const req = loki("query_range", {
      query: METRIC,
      start: secs(-3600n),
      end: NOW_S,
      step: "60",
      limit: "10",
      direction: "forward",
      extra: "x",
    });
    expect(req).toMatchObject({ kind: "metric", stepMs: 60_000, startNs: NOW - HOUR, endNs: NOW });
    expect(req.params).toEqual({ limit: "10", direction: "forward", extra: "x" });
    expect(loki("query_range", { query: METRIC, step: "1m" }).stepMs).toBe(60_000);
    expect(loki("query_range", { query: METRIC, step: "0.5" }).stepMs).toBe(500);
  });

  it("log query: own parameters removed from params, others kept", () => {
    const req = loki("query_range", {
      query: LOG,
      start: secs(-60n),
      end: NOW_S,
      limit: "5",
      direction: "forward",
      since: "1h",
      extra: "x",
    });
    expect(req.params).toEqual({ extra: "x" });
  });

  it.each([
    [LOG, true],
    ['{app="api"}', true],
    ['  \n\t{app="api"} | json', true],
    [METRIC, false],
    ['count_over_time({app="api"}[5m])', false],
    ["vector(1)", false],
    ['sum(rate({app="api"}[1m])) by (level)', false],
  ] as const)("isLogQuery(%j) is %s", (q, log) => {
    expect(isLogQuery(q)).toBe(log);
    expect(loki("query_range", { query: q }).kind).toBe(log ? "log" : "metric");
  });

  // LogQL allows `#` comments (Grafana keeps them in multi-line queries); a comment before the selector
  // must not turn a log query into a metric query (whose streams answer could not be merged as a matrix).
  it("a log query that starts with a comment is a log query", () => {
    const q = '# only the API\n{app="api"} |= "status=500"';
    expect(isLogQuery(q)).toBe(true);
    expect(loki("query_range", { query: q }).kind).toBe("log");
  });

  it("instant, metadata, stats, volume and passthrough routes", () => {
    expect(loki("query", { query: METRIC, time: NOW_S })).toMatchObject({
      kind: "instant",
      path: "/loki/api/v1/query",
    });
    expect(loki("labels", {})).toMatchObject({
      kind: "metadata",
      startNs: NOW - 6n * HOUR,
      endNs: NOW,
      path: "/loki/api/v1/labels",
    });
    expect(loki("label/app/values", { start: secs(-60n), end: NOW_S, query: '{env="prod"}' })).toMatchObject({
      kind: "metadata",
      params: { query: '{env="prod"}' },
    });
    expect(loki("series", { "match[]": ['{app="a"}', '{app="b"}'] })).toMatchObject({
      kind: "metadata",
      params: { "match[]": ['{app="a"}', '{app="b"}'] },
    });
    expect(loki("index/stats", { query: '{app="api"}' }).kind).toBe("stats");
    expect(loki("index/volume", { query: '{app="api"}' })).toMatchObject({ kind: "volume", limit: 100 });
    expect(loki("index/volume", { query: '{app="api"}', limit: "7" }).limit).toBe(7);
    expect(loki("detected_fields", { query: LOG }).kind).toBe("passthrough");
  });

  it("toQuerier sends ns times, step in seconds, limit and direction", () => {
    const log = lokiCodec.toQuerier(loki("query_range", { query: LOG, start: secs(-60n), end: NOW_S, extra: "x" }));
    expect(log.method).toBe("GET");
    expect(Object.fromEntries(log.params)).toEqual({
      extra: "x",
      start: (NOW - 60n * S).toString(),
      end: NOW.toString(),
      query: LOG,
      limit: "100",
      direction: "backward",
    });
    const metric = lokiCodec.toQuerier(loki("query_range", { query: METRIC, step: "0.5" }));
    expect(metric.params.get("step")).toBe("0.5");
    expect(metric.params.get("start")).toBe((NOW - HOUR).toString());
  });
});

describe("prometheusCodec.parse: bad parameters answer 400 with Prometheus' own words", () => {
  const range = { start: secs(-3600n), end: NOW_S, step: "15" };
  const zeroStep =
    'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer';
  const noExpression = "1:1: parse error: no expression found in input";
  // Each text as Prometheus 2.42 answers the same request.
  it.each<[string, string, Params, string]>([
    ["missing query", "query_range", { ...range }, noExpression],
    ["empty query", "query_range", { ...range, query: "" }, noExpression],
    [
      "missing start",
      "query_range",
      { query: PROMQL, end: NOW_S, step: "15" },
      'invalid parameter "start": cannot parse "" to a valid timestamp',
    ],
    [
      "missing end",
      "query_range",
      { query: PROMQL, start: NOW_S, step: "15" },
      'invalid parameter "end": cannot parse "" to a valid timestamp',
    ],
    [
      "missing step",
      "query_range",
      { query: PROMQL, start: secs(-60n), end: NOW_S },
      'invalid parameter "step": cannot parse "" to a valid duration',
    ],
    [
      "unparseable start",
      "query_range",
      { ...range, query: PROMQL, start: "now-1h" },
      'invalid parameter "start": cannot parse "now-1h" to a valid timestamp',
    ],
    [
      "unparseable end",
      "query_range",
      { ...range, query: PROMQL, end: "2026-11-22" },
      'invalid parameter "end": cannot parse "2026-11-22" to a valid timestamp',
    ],
    [
      "unparseable step",
      "query_range",
      { ...range, query: PROMQL, step: "15 s" },
      'invalid parameter "step": cannot parse "15 s" to a valid duration',
    ],
    [
      "fractional unit",
      "query_range",
      { ...range, query: PROMQL, step: "1.5m" },
      'invalid parameter "step": cannot parse "1.5m" to a valid duration',
    ],
    [
      "units out of order",
      "query_range",
      { ...range, query: PROMQL, step: "30s1m" },
      'invalid parameter "step": cannot parse "30s1m" to a valid duration',
    ],
    [
      "step overflows int64",
      "query_range",
      { ...range, query: PROMQL, step: "Inf" },
      'invalid parameter "step": cannot parse "Inf" to a valid duration. It overflows int64',
    ],
    [
      "step 1e10",
      "query_range",
      { ...range, query: PROMQL, step: "1e10" },
      'invalid parameter "step": cannot parse "1e10" to a valid duration. It overflows int64',
    ],
    ["step NaN (Go makes it the smallest int64)", "query_range", { ...range, query: PROMQL, step: "NaN" }, zeroStep],
    ["step too small for a nanosecond", "query_range", { ...range, query: PROMQL, step: "1e-10" }, zeroStep],
    ["zero step", "query_range", { ...range, query: PROMQL, step: "0" }, zeroStep],
    ["zero step as a duration", "query_range", { ...range, query: PROMQL, step: "0s" }, zeroStep],
    ["negative step", "query_range", { ...range, query: PROMQL, step: "-15" }, zeroStep],
    [
      "a step Prometheus quotes with escapes",
      "query_range",
      { ...range, step: "1\t\u00e9\u0001" },
      'invalid parameter "step": cannot parse "1\\t\u00e9\\x01" to a valid duration',
    ],
    [
      "end before start",
      "query_range",
      { query: PROMQL, start: NOW_S, end: secs(-1n), step: "15" },
      'invalid parameter "end": end timestamp must not be before start time',
    ],
    [
      "end before start comes before a bad step",
      "query_range",
      { query: PROMQL, start: NOW_S, end: secs(-1n), step: "x" },
      'invalid parameter "end": end timestamp must not be before start time',
    ],
    [
      "too many points",
      "query_range",
      { query: PROMQL, start: secs(-11_001n), end: NOW_S, step: "1" },
      "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
    ],
    [
      "start Inf: Go's time is far in the past, too many points",
      "query_range",
      { query: PROMQL, start: "Inf", end: NOW_S, step: "60" },
      "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
    ],
    [
      "end NaN: Go's time is far in the past",
      "query_range",
      { query: PROMQL, start: NOW_S, end: "NaN", step: "60" },
      'invalid parameter "end": end timestamp must not be before start time',
    ],
    [
      "bad timeout, before the query",
      "query_range",
      { ...range, timeout: "x" },
      'invalid parameter "timeout": cannot parse "x" to a valid duration',
    ],
    ["instant: missing query", "query", {}, `invalid parameter "query": ${noExpression}`],
    [
      "instant: bad time",
      "query",
      { query: PROMQL, time: "noon" },
      'invalid parameter "time": Invalid time value for \'time\': cannot parse "noon" to a valid timestamp',
    ],
    [
      "instant: bad time before a missing query",
      "query",
      { time: "noon" },
      'invalid parameter "time": Invalid time value for \'time\': cannot parse "noon" to a valid timestamp',
    ],
    [
      "instant: bad timeout",
      "query",
      { timeout: "1.5m" },
      'invalid parameter "timeout": cannot parse "1.5m" to a valid duration',
    ],
    [
      "series: bad start",
      "series",
      { "match[]": "up", start: "x", end: NOW_S },
      'invalid parameter "start": Invalid time value for \'start\': cannot parse "x" to a valid timestamp',
    ],
    [
      "labels: bad end alone",
      "labels",
      { end: "x" },
      'invalid parameter "end": Invalid time value for \'end\': cannot parse "x" to a valid timestamp',
    ],
    [
      "label values: bad start",
      "label/job/values",
      { start: "0x10", end: NOW_S },
      'invalid parameter "start": Invalid time value for \'start\': cannot parse "0x10" to a valid timestamp',
    ],
  ])("%s", (_, route, params, message) => expect400(() => prom(route, params), new RegExp(`^${escapeRe(message)}$`)));

  it("max_query_length exceeded", () => {
    const l = limits({ max_query_length: 86_400_000 });
    expect400(
      () => prom("query_range", { query: PROMQL, start: secs(-86_401n), end: NOW_S, step: "60" }, l),
      /query time range exceeds the limit/,
    );
    expect400(
      () => prom("series", { "match[]": "up", start: secs(-86_401n), end: NOW_S }, l),
      /query time range exceeds the limit/,
    );
    expect(prom("query_range", { query: PROMQL, start: secs(-86_400n), end: NOW_S, step: "60" }, l).kind).toBe(
      "metric",
    );
  });

  it("accepts a range of exactly 11,000 steps; start equal to end is one point", () => {
    expect(prom("query_range", { query: PROMQL, start: secs(-11_000n), end: NOW_S, step: "1" }).kind).toBe("metric");
    expect(prom("query_range", { query: PROMQL, start: NOW_S, end: NOW_S, step: "1" })).toMatchObject({
      startNs: NOW,
      endNs: NOW,
    });
  });

  // Prometheus divides durations as integers: (end-start)/step = 11000 for 11000.999 s at step 1 s.
  it("counts points as Prometheus does (integer division of the range by the step)", () => {
    expect(prom("query_range", { query: PROMQL, start: "1795294599.001", end: NOW_S, step: "1" }).kind).toBe("metric");
  });
});

describe("prometheusCodec.parse: good requests", () => {
  const form = (body: string, query = "") =>
    new Request(`http://fairgate/api/v1/query_range${query}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });

  it("reads a POSTed form (Grafana's default) like a query string", async () => {
    const body = new URLSearchParams({
      query: PROMQL,
      start: "2026-11-21T23:00:00Z",
      end: NOW_S,
      step: "15s",
      timeout: "30s",
    }).toString();
    const params = await readParams(form(body));
    const req = prom("query_range", params);
    expect(req).toMatchObject({
      api: "prometheus",
      kind: "metric",
      path: "/api/v1/query_range",
      query: PROMQL,
      startNs: NOW - HOUR,
      endNs: NOW,
      stepMs: 15_000,
    });
    expect(req.params).toEqual({ timeout: "30s" });
    // and GET, with the same result
    const get = await readParams(new Request(`http://fairgate/api/v1/query_range?${body}`));
    expect(prom("query_range", get)).toEqual(req);
  });

  it("keeps repeated parameters (match[]) from form and query string, form first as Go's ParseForm", async () => {
    const params = await readParams(form("match%5B%5D=b&start=1&end=2", "?match[]=a"));
    expect(params["match[]"]).toEqual(["b", "a"]);
    expect(prom("series", params)).toMatchObject({
      kind: "metadata",
      startNs: S,
      endNs: 2n * S,
      params: { "match[]": ["b", "a"] },
    });
  });

  it("ignores a body that is not a form", async () => {
    const req = new Request("http://fairgate/api/v1/query?query=up", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"query":"down"}',
    });
    expect(await readParams(req)).toEqual({ query: "up" });
  });

  // Go's Request.FormValue (what Prometheus reads) prefers the POST body over the URL query string.
  it("a parameter in both the URL and the form body: the body wins, as in Prometheus", async () => {
    const params = await readParams(form(`query=${encodeURIComponent("down")}&start=1&end=2&step=1`, "?query=up"));
    expect(prom("query_range", params).query).toBe("down");
  });

  it("rejects a form body over 1 MiB with 413", async () => {
    await expect(readParams(form(`query=${"x".repeat((1 << 20) + 1)}`))).rejects.toMatchObject({ status: 413 });
  });

  it("reads a form body up to the configured read limit (routes.read.max_body_bytes), not past it", async () => {
    const body = `query=${"x".repeat((1 << 20) + 1)}`;
    expect(one(await readParams(form(body), 2 << 20), "query")).toHaveLength((1 << 20) + 1);
    await expect(readParams(form(body), 1 << 19)).rejects.toMatchObject({ status: 413 });
  });

  it("pins @ start() and @ end() to the query's absolute times", () => {
    const req = prom("query_range", {
      query: "rate(x[5m] @ start()) / rate(x[5m] @end( ))",
      start: "1795302000",
      end: "1795305600.5",
      step: "60",
    });
    expect(req.query).toBe("rate(x[5m] @ 1795302000) / rate(x[5m] @ 1795305600.5)");
    expect(prometheusCodec.toQuerier(req).params.get("query")).toBe(req.query);
  });

  it.each([
    ['x{a="@ start()"} @ end()', 'x{a="@ start()"} @ 20'],
    ["x{a='@ end()'} @ start()", "x{a='@ end()'} @ 10"],
    ["x{a=`@ start()`} @ start()", "x{a=`@ start()`} @ 10"],
    ['x{a="\\"@ start()"} @ start()', 'x{a="\\"@ start()"} @ 10'],
    ['x{a="\\\\"} @ start()', 'x{a="\\\\"} @ 10'],
    ["x @start()", "x @ 10"],
    ["x offset 5m @ end()", "x offset 5m @ 20"],
    ["start() + end()", "start() + end()"],
    ["x @ 123", "x @ 123"],
  ])("pinStartEnd(%j)", (q, want) => expect(pinStartEnd(q, 10n * S, 20n * S)).toBe(want));

  it("instant queries: time defaults to now; metadata without a range is not split", () => {
    expect(prom("query", { query: PROMQL })).toMatchObject({ kind: "instant", startNs: NOW, endNs: NOW });
    expect(prom("query", { query: PROMQL, time: "1795302000" })).toMatchObject({
      kind: "instant",
      startNs: NOW - HOUR,
      endNs: NOW - HOUR,
    });
    expect(prom("labels", {}).kind).toBe("passthrough");
    expect(prom("labels", { start: secs(-60n) }).kind).toBe("passthrough");
    expect(prom("label/job/values", { start: secs(-60n), end: NOW_S })).toMatchObject({
      kind: "metadata",
      startNs: NOW - 60n * S,
      endNs: NOW,
    });
    expect(prom("status/buildinfo", {}).kind).toBe("passthrough");
  });

  // Prometheus reads numbers with Go's strconv.ParseFloat (checked against Prometheus 2.42).
  it.each([
    ["1e2", 100_000],
    ["+60", 60_000],
    ["60.", 60_000],
    [".5e2", 50_000],
    ["1E2", 100_000],
    ["1_000", 1_000_000],
    ["0x1p4", 16_000],
    ["0x1.8p5", 48_000],
    ["0x_1p6", 64_000],
    ["1h30m", 5_400_000],
    ["1m0s", 60_000],
    ["01m", 60_000],
    ["1d", 86_400_000],
    ["0.0015", 1.5],
  ])("accepts the step %j (%d ms)", (step, stepMs) => {
    const req = prom("query_range", { query: PROMQL, start: secs(-10n), end: NOW_S, step });
    expect(req).toMatchObject({ kind: "metric", stepMs });
  });

  it.each([
    ["1.795766e+09", 1_795_766_000n * S],
    ["+1795765680", 1_795_765_680n * S],
    ["1795765680.", 1_795_765_680n * S],
    ["1_795_765_680", 1_795_765_680n * S],
    ["0x1.ac1p30", 1_795_424_256n * S],
    ["1795765680.0015", 1_795_765_680_001_000_000n], // to the millisecond, as Prometheus rounds
    ["2026-11-21T23:00:00,5Z", NOW - HOUR + S / 2n],
    ["2026-11-21T23:00:00.0006Z", NOW - HOUR], // Prometheus evaluates at the millisecond below
    ["2026-11-22T00:00:00+24:00", NOW - 24n * HOUR], // Go reads any two-digit zone
  ])("accepts the start %j", (start, startNs) => {
    const req = prom("query_range", { query: PROMQL, start, end: secs(7n * 86_400n), step: "3600" });
    expect(req).toMatchObject({ kind: "metric", startNs });
    expect(prom("query", { query: PROMQL, time: start })).toMatchObject({ kind: "instant", startNs });
  });

  // Prometheus answers them itself: fairgate sends them unsplit, exactly as they came.
  it.each<[string, string, Params]>([
    ["labels, end before start", "labels", { start: NOW_S, end: secs(-3600n) }],
    ["series, end before start", "series", { "match[]": "up", start: NOW_S, end: secs(-3600n) }],
    ["label values, end before start", "label/job/values", { start: NOW_S, end: secs(-3600n) }],
    ["label values, an invalid name (checked before the times)", "label/1x/values", { start: "x", end: NOW_S }],
    ["series without match[] (checked before the times)", "series", { start: "x", end: NOW_S }],
    [
      "labels from and to the end of time",
      "labels",
      { start: "-292273086-05-16T16:47:06Z", end: "292277025-08-18T07:12:54.999999999Z" },
    ],
    ["labels, start and end Inf", "labels", { start: "Inf", end: "Inf" }],
    ["query_range in year 33658", "query_range", { query: PROMQL, start: "1e12", end: "1e12", step: "60" }],
    [
      "query_range over the year 50",
      "query_range",
      { query: PROMQL, start: "0050-01-01T00:00:00Z", end: "0051-01-01T00:00:00Z", step: "1d" },
    ],
  ])("%s: passthrough", (_, route, params) => {
    const req = prom(route, params);
    expect(req.kind).toBe("passthrough");
    expect(Object.fromEntries(prometheusCodec.toQuerier(req).params)).toEqual(params);
  });

  it("max_query_length still holds for ranges sent as they came", () => {
    const l = limits({ max_query_length: 86_400_000 });
    expect400(
      () => prom("labels", { start: "-292273086-05-16T16:47:06Z", end: "292277025-08-18T07:12:54.999999999Z" }, l),
      /query time range exceeds the limit/,
    );
  });

  it("toQuerier: forms for query_range, series and labels; GET for label values; seconds with fractions", () => {
    const range = prometheusCodec.toQuerier(
      prom("query_range", { query: PROMQL, start: "1795302000.25", end: NOW_S, step: "0.5", timeout: "5s" }),
    );
    expect(range.method).toBe("POST");
    expect(Object.fromEntries(range.params)).toEqual({
      timeout: "5s",
      query: PROMQL,
      start: "1795302000.25",
      end: NOW_S,
      step: "0.5",
    });
    const values = prometheusCodec.toQuerier(prom("label/job/values", { start: secs(-60n), end: NOW_S }));
    expect(values.method).toBe("GET");
    expect(values.params.get("start")).toBe(secs(-60n));
    expect(prometheusCodec.toQuerier(prom("series", { "match[]": "up", start: secs(-60n), end: NOW_S })).method).toBe(
      "POST",
    );
  });
});
