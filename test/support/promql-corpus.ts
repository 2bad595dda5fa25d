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
      "sum by (job) (rate(http_request_duration_seconds_sum[5m])) / sum by (job) " +
      "(rate(http_request_duration_seconds_count[5m]))",
  },
  {
    name: "share under 250ms",
    query:
      'sum by (job) (increase(http_request_duration_seconds_bucket{le="0.25"}[1h])) ' +
      "/ sum by (job) (increase(http_request_duration_seconds_count[1h]))",
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
      'rate(http_requests_total{code="500"}[5m]) ' +
      "/ ignoring (code) group_left sum without (code) (rate(http_requests_total[5m]))",
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
