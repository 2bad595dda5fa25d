import { ALL_INSTANCES, DATASET, SERIES_PER_METRIC } from "./prometheus.js";

/**
 * PromQL queries over the synthetic data of test/support/prometheus.ts, for tests that compare the
 * query frontend with Prometheus itself.
 *
 * Unless marked maybeEmpty, a query that does not expect an error returns a non-empty result when
 * run as a range query over the whole data span [start, end] (step 5m) or as an instant query at
 * `end`. Narrower windows can legitimately be empty for some (e.g. legacy_jobs_processed_total only
 * has samples in the first half).
 */
export interface CorpusQuery {
  name: string;
  query: string;
  /** Prometheus answers with status "error" (HTTP 400 bad_data or 422 execution). */
  expectError?: boolean;
  /** The errorType Prometheus answers with, when the query is expected to fail. */
  errorType?: "bad_data" | "execution";
  /** A successful, possibly empty, result is correct. */
  maybeEmpty?: boolean;
  /** For instant queries: the resultType Prometheus answers with. */
  resultType?: "vector" | "matrix" | "scalar" | "string";
}

/** Range queries that do not depend on the data span (≥ 34 of them, errors included). */
export const RANGE_QUERIES: CorpusQuery[] = [
  // Counters
  { name: "rate", query: 'rate(http_requests_total{job="api",code="200"}[5m])' },
  { name: "irate", query: 'irate(http_requests_total{job="worker"}[5m])' },
  { name: "increase", query: 'increase(http_requests_total{code="500"}[1h])' },
  { name: "regex matchers", query: 'sum(rate(http_requests_total{code=~"5..",method!="POST"}[5m]))' },
  { name: "resets", query: 'resets(http_requests_total{instance="api-1:8080"}[1h])' },
  { name: "changes", query: "changes(up[1h])" },

  // Aggregations
  { name: "sum by", query: "sum by (job, code) (rate(http_requests_total[5m]))" },
  { name: "sum without", query: "sum without (instance, method) (rate(http_requests_total[5m]))" },
  { name: "avg by", query: "avg by (job) (queue_depth)" },
  { name: "max by", query: "max by (job) (queue_depth)" },
  { name: "min", query: "min(node_memory_free_bytes)" },
  { name: "count by", query: "count by (job) (up)" },
  { name: "group", query: "group by (job) (http_requests_total)" },
  { name: "topk", query: "topk(3, sum by (instance) (rate(http_requests_total[5m])))" },
  { name: "bottomk", query: "bottomk(2, node_memory_free_bytes)" },
  { name: "quantile", query: "quantile(0.95, rate(http_requests_total[5m]))" },
  { name: "stddev", query: "stddev by (job) (queue_depth)" },
  { name: "stdvar", query: "stdvar(rate(http_requests_total[5m]))" },
  { name: "count_values", query: 'count_values("value", up)' },

  // Histograms
  {
    name: "histogram_quantile by job",
    query: "histogram_quantile(0.9, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))",
  },
  {
    name: "histogram_quantile per instance",
    query: 'histogram_quantile(0.99, rate(http_request_duration_seconds_bucket{job="api"}[10m]))',
  },
  {
    name: "average latency",
    query:
      "sum by (job) (rate(http_request_duration_seconds_sum[5m])) / sum by (job) (rate(http_request_duration_seconds_count[5m]))",
  },
  {
    name: "share under 250ms",
    query:
      'sum by (job) (increase(http_request_duration_seconds_bucket{le="0.25"}[1h])) / sum by (job) (increase(http_request_duration_seconds_count[1h]))',
  },

  // Gauges and *_over_time
  { name: "delta", query: "delta(queue_depth[1h])" },
  { name: "deriv", query: "deriv(queue_depth[30m])" },
  { name: "predict_linear", query: "predict_linear(node_memory_free_bytes[1h], 3600)" },
  { name: "quantile_over_time", query: "quantile_over_time(0.5, queue_depth[1h])" },
  { name: "count_over_time (restart gap)", query: "count_over_time(up[10m])" },

  // Offsets, subqueries, @
  { name: "offset 1h", query: "sum by (job) (rate(http_requests_total[5m] offset 1h))" },
  {
    name: "offset 1d ratio",
    query: "sum(rate(http_requests_total[5m])) / sum(rate(http_requests_total[5m] offset 1d))",
  },
  { name: "negative offset", query: "max_over_time(queue_depth[1h] offset -1h)" },
  {
    name: "subquery max_over_time(rate)",
    query: 'max_over_time(rate(http_requests_total{job="api",method="GET",code="200"}[5m])[1h:5m])',
  },
  { name: "subquery 1d:1h", query: "avg_over_time(sum by (job) (rate(http_requests_total[5m]))[1d:1h])" },
  { name: "@ end()", query: "sum by (job) (rate(http_requests_total[5m] @ end()))" },
  { name: "@ start()", query: "queue_depth @ start()" },

  // absent and a series that ends halfway (staleness)
  { name: "absent of an existing series", query: 'absent(up{job="api"})', maybeEmpty: true },
  { name: "absent of a missing series", query: 'absent(nonexistent_metric{job="api"})' },
  { name: "absent of a series that stopped", query: 'absent(legacy_jobs_processed_total{job="legacy"})' },
  { name: "absent_over_time", query: "absent_over_time(legacy_jobs_processed_total[1h])" },
  { name: "series that stops halfway", query: "legacy_jobs_processed_total" },
  { name: "rate of a series that stops halfway", query: "rate(legacy_jobs_processed_total[5m])" },

  // Labels
  { name: "label_replace", query: 'label_replace(up, "host", "$1", "instance", "(.*):[0-9]+")' },
  { name: "label_join", query: 'label_join(up, "job_instance", "/", "job", "instance")' },

  // Vector matching and binary operators
  { name: "on + group_left", query: "node_memory_free_bytes * on (instance) group_left (job) up" },
  {
    name: "ignoring + group_left",
    query:
      'rate(http_requests_total{code="500"}[5m]) / ignoring (code) group_left sum without (code) (rate(http_requests_total[5m]))',
  },
  { name: "scalar arithmetic", query: "node_memory_free_bytes / 1024 / 1024 + 1" },
  { name: "scalar()", query: "queue_depth / scalar(sum(up))" },
  { name: "comparison filter", query: "queue_depth > 60" },
  { name: "comparison bool", query: "queue_depth > bool 60" },
  { name: "or", query: 'rate(http_requests_total{code="500"}[5m]) or rate(http_requests_total{code="404"}[5m])' },
  { name: "and", query: "up and on (instance) (queue_depth > 50)" },
  { name: "unless", query: "up unless on (instance) (queue_depth > 80)" },

  // Functions
  { name: "time()", query: "time()" },
  { name: "vector()", query: "vector(1)" },
  { name: "timestamp()", query: 'timestamp(up{job="worker"})' },
  { name: "sort", query: "sort(sum by (instance) (queue_depth))" },
  { name: "sort_desc", query: "sort_desc(sum by (instance) (rate(http_requests_total[5m])))" },
  { name: "clamp", query: "clamp(queue_depth, 20, 80)" },
  { name: "clamp_max", query: "clamp_max(rate(http_requests_total[5m]), 1)" },
  { name: "round", query: "round(rate(http_requests_total[5m]), 0.1)" },

  // Errors
  { name: "syntax error", query: "sum(rate(http_requests_total[5m])", expectError: true, errorType: "bad_data" },
  { name: "range vector expected", query: "rate(up)", expectError: true, errorType: "bad_data" },
  { name: "unknown function", query: "no_such_function(up)", expectError: true, errorType: "bad_data" },
  { name: "selector matching everything", query: '{__name__=~".*"}', expectError: true, errorType: "bad_data" },
  { name: "many-to-many matching", query: "up + on (job) queue_depth", expectError: true, errorType: "execution" },
  {
    name: "duplicate labelset",
    query: 'count_over_time({__name__=~"http_request_duration_seconds_(sum|count)"}[5m])',
    expectError: true,
    errorType: "execution",
  },
];

/** An hour near the middle of the data span. */
export function midpoint(p: { start: number; end: number }): number {
  return p.start + Math.floor((p.end - p.start) / 2 / 3600) * 3600;
}

/** RANGE_QUERIES plus queries with absolute `@` timestamps inside the data span. */
export function rangeQueries(p: { start: number; end: number }): CorpusQuery[] {
  const mid = midpoint(p);
  return [
    ...RANGE_QUERIES,
    { name: "@ <unix> (middle)", query: `sum by (job) (rate(http_requests_total[5m] @ ${mid}))` },
    {
      name: "@ <unix> (first day) in increase",
      query: `increase(http_requests_total{job="api",code="200"}[1h] @ ${p.start + 86400})`,
    },
    { name: "@ <unix> with offset", query: `queue_depth @ ${mid} offset 1h` },
  ];
}

/** Instant queries, run at `end` (≥ 8, errors included). */
export const INSTANT_QUERIES: CorpusQuery[] = [
  { name: "up", query: "up", resultType: "vector" },
  { name: "sum by rate", query: "sum by (job) (rate(http_requests_total[5m]))", resultType: "vector" },
  {
    name: "histogram_quantile",
    query: "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[1h])))",
    resultType: "vector",
  },
  { name: "count_over_time 1d", query: "count_over_time(up[1d])", resultType: "vector" },
  { name: "topk", query: "topk(2, queue_depth)", resultType: "vector" },
  { name: "range vector", query: 'http_requests_total{instance="api-0:8080",method="GET"}[5m]', resultType: "matrix" },
  { name: "subquery", query: "rate(queue_depth[1h:1m])", resultType: "vector" },
  { name: "absent of a missing series", query: "absent(nonexistent_metric)", resultType: "vector" },
  { name: "series that stopped", query: "legacy_jobs_processed_total", resultType: "vector", maybeEmpty: true },
  { name: "scalar", query: "1 + 1", resultType: "scalar" },
  { name: "time()", query: "time()", resultType: "scalar" },
  { name: "string", query: '"fairgate"', resultType: "string" },
  { name: "@ start() over 1d", query: "increase(http_requests_total[1d] @ start())", resultType: "vector" },
  { name: "range vector expected", query: "rate(up)", expectError: true, errorType: "bad_data" },
  { name: "syntax error", query: "up{", expectError: true, errorType: "bad_data" },
];

const sortedUnique = (xs: readonly string[]): string[] => [...new Set(xs)].sort();

/** Label names present in the data, sorted (as /api/v1/labels returns them). */
export const LABEL_NAMES: string[] = ["__name__", "code", "instance", "job", "le", "method"];

/** Values of each label, sorted (as /api/v1/label/<name>/values returns them). */
export const LABEL_VALUES: Record<string, string[]> = {
  __name__: Object.keys(SERIES_PER_METRIC).sort(),
  job: sortedUnique([...DATASET.jobs, DATASET.legacyJob]),
  instance: sortedUnique([...ALL_INSTANCES, ...DATASET.legacyInstances]),
  method: sortedUnique(DATASET.methods),
  code: sortedUnique(DATASET.codes),
  le: sortedUnique(DATASET.buckets),
};

const perJob = ALL_INSTANCES.length / DATASET.jobs.length;
const histogramSeriesPerInstance = DATASET.buckets.length + 2;

/** match[] sets for /api/v1/series (over the whole span) with the number of series each selects. */
export const SERIES_MATCHERS: { match: string[]; series: number }[] = [
  { match: ["up"], series: SERIES_PER_METRIC.up! },
  { match: ['http_requests_total{job="api"}'], series: SERIES_PER_METRIC.http_requests_total! / DATASET.jobs.length },
  {
    match: ['http_requests_total{job="api",code="500"}', 'up{job="worker"}'],
    series: perJob * DATASET.methods.length + perJob,
  },
  {
    match: ['{__name__=~"http_request_duration_seconds_.*",instance="api-0:8080"}'],
    series: histogramSeriesPerInstance,
  },
  { match: ["node_memory_free_bytes"], series: SERIES_PER_METRIC.node_memory_free_bytes! },
  { match: ["legacy_jobs_processed_total"], series: SERIES_PER_METRIC.legacy_jobs_processed_total! },
  {
    // node_memory_free_bytes has no job label
    match: ['{job="worker"}'],
    series: perJob * (DATASET.methods.length * DATASET.codes.length + histogramSeriesPerInstance + 2),
  },
];

/** A request whose answer, status and body, must be Prometheus' own. */
export interface ParameterCase {
  name: string;
  /** Below /api/v1/, e.g. "query_range" or "label/job/values". */
  route: string;
  form: Record<string, string | string[]>;
  /** Prometheus answers a non-empty data list. */
  nonEmpty?: boolean;
}

// Go's spellings of one number of seconds: exponent, sign, trailing dot, underscores, hexadecimal float.
const goSpellings = (n: number): [string, string][] => [
  ["exponent", `${n / 100}e+2`],
  ["plus sign", `+${n}`],
  ["trailing dot", `${n}.`],
  ["underscores", String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "_")],
  ["hexadecimal float", `0x${n.toString(16)}p0`],
];

/**
 * Parameters as clients may write them, well or badly: how Prometheus reads times and steps (Go's
 * strconv.ParseFloat and time.Parse), its checks in its order, its error texts, metadata with end
 * before start or at the ends of time.
 */
export function parameterCases(p: { start: number; end: number }): ParameterCase[] {
  const range = (start: string, end: string, step: string, query = "sum by (job) (rate(http_requests_total[5m]))") => ({
    query,
    start,
    end,
    step,
  });
  const day = { start: String(p.end - 86_400), end: String(p.end) };
  const hour = p.end - 3600;
  const cases: ParameterCase[] = [];
  const qr = (name: string, form: Record<string, string>) => cases.push({ name, route: "query_range", form });
  for (const step of ["1e2", "+60", "60.", ".5e2", "1E2", "1_000", "0x1p8", "1h", "1h30m", "1m0s", "01m", "1d"])
    qr(`step ${step}`, range(day.start, day.end, step));
  for (const step of ["0x10", "Inf", "NaN", "-nan", "1e-10", "1e400", "1__0", "1.5m", "30s1m", "0", "-60", "", " 60"])
    qr(`bad step ${JSON.stringify(step)}`, range(day.start, day.end, step));
  qr("a step quoted with escapes", range(day.start, day.end, "1\t\u00e9\u0001\u00a0"));
  for (const [how, start] of goSpellings(p.end - 86_400)) qr(`start with ${how}`, range(start, day.end, "300"));
  for (const [how, end] of goSpellings(p.end)) qr(`end with ${how}`, range(day.start, end, "300"));
  const iso = (s: number) => new Date(s * 1000).toISOString().replace(".000Z", "");
  for (const start of [
    `${iso(hour)},5Z`,
    `${iso(hour)}.0006Z`,
    `${iso(hour - 3600)}+01:00`,
    `${iso(hour)}-00:00`,
    `${iso(hour)}.123456789Z`,
    `${String(p.end - 86_400)}.0015`,
    `${String(p.end - 86_400)}.9996`,
  ])
    qr(`start ${start}`, range(start, day.end, "60"));
  for (const start of [`${iso(hour).toLowerCase()}z`, `${iso(hour).replace("T", " ")}Z`, `${iso(hour)}.Z`, "0x10"])
    qr(`bad start ${start}`, range(start, day.end, "60"));
  for (const start of ["Inf", "-Inf", "NaN", "1e400", ` ${day.start}`, "0050-01-01T00:00:00Z", "abc"])
    qr(`start ${start}`, range(start, day.end, "60"));
  qr("end NaN", range(day.start, "NaN", "60"));
  qr("start and end Inf", range("Inf", "Inf", "60", "vector(1)"));
  qr("year 33658", range("1e12", "1e12", "60", "vector(1)"));
  qr("missing start", { query: "up", end: day.end, step: "60" });
  qr("missing end", { query: "up", start: day.start, step: "60" });
  qr("missing step", { query: "up", start: day.start, end: day.end });
  qr("missing query", { start: day.start, end: day.end, step: "60" });
  qr("empty query", range(day.start, day.end, "60", ""));
  qr("end before start, bad step", range(day.end, day.start, "x"));
  qr("bad timeout", { ...range(day.start, day.end, "60"), timeout: "1.5m" });
  qr("bad timeout, missing query", { start: day.start, end: day.end, step: "60", timeout: "x" });
  qr("too many points, bad timeout", { ...range(String(p.start), day.end, "1"), timeout: "x" });

  const instant = (name: string, form: Record<string, string>) => cases.push({ name, route: "query", form });
  for (const [how, time] of goSpellings(hour)) instant(`instant, time with ${how}`, { query: "up", time });
  instant("instant, time NaN", { query: "vector(1)", time: "NaN" });
  instant("instant, time 1e12", { query: "vector(1)", time: "1e12" });
  instant("instant, bad time", { query: "up", time: "0x10" });
  instant("instant, missing query", { time: String(hour) });
  instant("instant, bad time and missing query", { time: "noon" });
  instant("instant, bad timeout", { query: "up", time: String(hour), timeout: "x" });

  const meta = (name: string, form: Record<string, string | string[]>, nonEmpty?: boolean) => {
    cases.push({ name: `labels, ${name}`, route: "labels", form, nonEmpty });
    cases.push({ name: `label values, ${name}`, route: "label/job/values", form, nonEmpty });
    cases.push({ name: `series, ${name}`, route: "series", form: { "match[]": "up", ...form }, nonEmpty });
  };
  // Prometheus opens the blocks that hold both end and start: an hour apart inside one 2h block (backfilled
  // blocks are aligned to 2h), that block answers; a day apart, none does.
  const block = Math.ceil(p.start / 7200) * 7200;
  meta("end before start in one block", { start: String(block + 5400), end: String(block + 1800) }, true);
  meta("end a day before start", { start: String(p.start + 2 * 86_400), end: String(p.start + 86_400) });
  const endsOfTime = { start: "-292273086-05-16T16:47:06Z", end: "292277025-08-18T07:12:54.999999999Z" };
  meta("the ends of time", endsOfTime, true);
  meta("Inf and NaN", { start: "Inf", end: "NaN" });
  meta("start with underscores", { start: goSpellings(p.end - 86_400)[3]![1], end: day.end });
  meta("bad start", { start: "x", end: day.end });
  meta("bad end alone", { end: "1e400" });
  cases.push({ name: "label values, invalid name and bad start", route: "label/1x/values", form: { start: "x" } });
  cases.push({ name: "series, no match[] and bad start", route: "series", form: { start: "x" } });
  return cases;
}
