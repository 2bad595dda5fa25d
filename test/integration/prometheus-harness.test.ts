import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ALL_INSTANCES,
  COUNTER_RESET_INSTANCE,
  DATASET,
  SERIES_PER_METRIC,
  TOTAL_SERIES,
  defaultEnd,
  startPrometheus,
  type TestPrometheus,
} from "../support/prometheus.js";
import {
  INSTANT_QUERIES,
  LABEL_NAMES,
  LABEL_VALUES,
  RANGE_QUERIES,
  SERIES_MATCHERS,
  rangeQueries,
  type CorpusQuery,
} from "../support/promql-corpus.js";

// The span is fixed before collection so the corpus (absolute `@` timestamps) can name the tests.
const DAYS = 7;
const END = defaultEnd();
const START = END - DAYS * 86400;
const STEP = 300; // 2017 points per series over 7 days

let prom: TestPrometheus;
let startedAt = 0;

beforeAll(async () => {
  startedAt = Date.now();
  prom = await startPrometheus({ days: DAYS, end: END });
  const d = prom.dataset;
  console.info(
    `prometheus harness: ${d.series} series, ${d.samples} samples, ${d.blocks} blocks, ` +
      `prepare ${prom.timings.prepareMs} ms (${d.fromCache ? "cached" : "generated + backfilled"}), ready ` +
      `${prom.timings.readyMs} ms`,
  );
});

afterAll(async () => {
  await prom?.close();
  if (startedAt) console.info(`prometheus harness: whole file ${Date.now() - startedAt} ms`);
});

interface ApiAnswer {
  status: number;
  body: { status: string; data?: any; errorType?: string; error?: string };
}

async function api(path: string, params: Record<string, string | number | string[]>): Promise<ApiAnswer> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const x of Array.isArray(v) ? v : [v]) qs.append(k, String(x));
  }
  const res = await fetch(`${prom.url}${path}?${qs}`, { signal: AbortSignal.timeout(25_000) });
  return { status: res.status, body: (await res.json()) as ApiAnswer["body"] };
}

async function instantValue(
  query: string,
  time: number,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const { status, body } = await api("/api/v1/query", { query, time });
  expect(status, JSON.stringify(body)).toBe(200);
  return body.data.result;
}

describe("the data", () => {
  it("has the requested span", () => {
    expect(prom.start).toBe(START);
    expect(prom.end).toBe(END);
    expect(END % 3600).toBe(0);
    expect(END).toBeLessThanOrEqual(Date.now() / 1000 - 3600);
    expect(prom.dataset.series).toBe(TOTAL_SERIES);
  });

  it("covers exactly [start, end]: hourly query_range points of a full series", async () => {
    const { status, body } = await api("/api/v1/query_range", {
      query: 'node_memory_free_bytes{instance="api-0:8080"}',
      start: START - 7200,
      end: END + 7200,
      step: 3600,
    });
    expect(status).toBe(200);
    const [series, ...rest] = body.data.result as { values: [number, string][] }[];
    expect(rest).toHaveLength(0);
    expect(series!.values).toHaveLength(DAYS * 24 + 1);
    expect(series!.values[0]![0]).toBe(START);
    expect(series!.values.at(-1)![0]).toBe(END);
  });

  it("holds every series and sample that was generated", async () => {
    let samples = 0;
    for (const [name, count] of Object.entries(SERIES_PER_METRIC)) {
      const [atStart] = await instantValue(`count(${name})`, START);
      expect(atStart?.value[1], name).toBe(String(count));
      const [total] = await instantValue(`sum(count_over_time(${name}[${DAYS + 1}d]))`, END);
      samples += Number(total!.value[1]);
    }
    expect(samples).toBe(prom.dataset.samples);
    const [up] = await instantValue(`sum(count_over_time(up[${DAYS + 1}d]))`, END);
    expect(up!.value[1]).toBe(String(ALL_INSTANCES.length * prom.dataset.samplesPerFullSeries));
  });

  it("has one counter reset, on one instance", async () => {
    const reset = await instantValue(
      `resets(http_requests_total{instance="${COUNTER_RESET_INSTANCE}"}[${DAYS}d])`,
      END,
    );
    expect(reset).toHaveLength(DATASET.methods.length * DATASET.codes.length);
    for (const r of reset) expect(r.value[1]).toBe("1");
    const others = await instantValue(
      `resets(http_requests_total{instance!="${COUNTER_RESET_INSTANCE}"}[${DAYS}d])`,
      END,
    );
    expect(others.length).toBeGreaterThan(0);
    for (const r of others) expect(r.value[1]).toBe("0");
    const [down] = await instantValue(`min_over_time(up{instance="${COUNTER_RESET_INSTANCE}"}[${DAYS}d])`, END);
    expect(down!.value[1]).toBe("0");
    const histReset = await instantValue(`resets(http_request_duration_seconds_count[${DAYS}d])`, END);
    expect(histReset.filter((r) => r.value[1] !== "0").map((r) => r.metric.instance)).toEqual([COUNTER_RESET_INSTANCE]);
  });

  it("has a series that stops halfway", async () => {
    const t = prom.dataset.legacyLastSampleAt;
    expect(t).toBeGreaterThan(START + (END - START) / 3);
    expect(t).toBeLessThan(END - (END - START) / 3);
    expect(await instantValue("legacy_jobs_processed_total", t)).toHaveLength(DATASET.legacyInstances.length);
    expect(await instantValue("legacy_jobs_processed_total", t + 600)).toHaveLength(0);
    expect(await instantValue("absent(legacy_jobs_processed_total)", t + 600)).toHaveLength(1);
  });

  it("keeps the histogram consistent with the request counters", async () => {
    const diff = await instantValue(
      "sum by (instance) (increase(http_requests_total[1h])) - sum by (instance) " +
        "(increase(http_request_duration_seconds_count[1h]))",
      END,
    );
    expect(diff).toHaveLength(ALL_INSTANCES.length);
    for (const d of diff) expect(Math.abs(Number(d.value[1]))).toBeLessThan(1e-6);
    const inf = await instantValue(
      'http_request_duration_seconds_bucket{le="+Inf"} - ignoring (le) http_request_duration_seconds_count',
      END,
    );
    for (const d of inf) expect(d.value[1]).toBe("0");
  });
});

describe("labels and series", () => {
  it("label names", async () => {
    const { body } = await api("/api/v1/labels", { start: START, end: END });
    expect(body.data).toEqual(LABEL_NAMES);
  });

  it.for(Object.entries(LABEL_VALUES))("values of %s", async ([name, values]) => {
    const { body } = await api(`/api/v1/label/${name}/values`, { start: START, end: END });
    expect(body.data).toEqual(values);
  });

  it.for(SERIES_MATCHERS)("series $match", async ({ match, series }) => {
    const { status, body } = await api("/api/v1/series", { "match[]": match, start: START, end: END });
    expect(status).toBe(200);
    expect(body.data).toHaveLength(series);
  });
});

function checkAnswer(q: CorpusQuery, { status, body }: ApiAnswer): any[] {
  if (q.expectError) {
    expect([400, 422], JSON.stringify(body)).toContain(status);
    expect(body.status).toBe("error");
    if (q.errorType) expect(body.errorType).toBe(q.errorType);
    return [];
  }
  expect(status, JSON.stringify(body).slice(0, 500)).toBe(200);
  expect(body.status).toBe("success");
  return body.data.result;
}

describe("range query corpus, straight to Prometheus", () => {
  const corpus = rangeQueries({ start: START, end: END });

  it("is big enough", () => {
    expect(RANGE_QUERIES.length).toBeGreaterThanOrEqual(34);
    expect(corpus.filter((q) => q.expectError).length).toBeGreaterThanOrEqual(3);
    expect(new Set(corpus.map((q) => q.name)).size).toBe(corpus.length);
  });

  it.for(corpus)("$name: $query", async (q) => {
    const answer = await api("/api/v1/query_range", { query: q.query, start: START, end: END, step: STEP });
    const result = checkAnswer(q, answer) as { values: [number, string][] }[];
    if (q.expectError) return;
    expect(answer.body.data.resultType).toBe("matrix");
    if (!q.maybeEmpty) expect(result.length).toBeGreaterThan(0);
    for (const s of result) {
      expect(s.values.length).toBeGreaterThan(0);
      expect(s.values.length).toBeLessThanOrEqual((END - START) / STEP + 1);
    }
  });
});

describe("instant query corpus, straight to Prometheus", () => {
  it("is big enough", () => {
    expect(INSTANT_QUERIES.length).toBeGreaterThanOrEqual(8);
  });

  it.for(INSTANT_QUERIES)("$name: $query", async (q) => {
    const answer = await api("/api/v1/query", { query: q.query, time: END });
    const result = checkAnswer(q, answer);
    if (q.expectError) return;
    if (q.resultType) expect(answer.body.data.resultType).toBe(q.resultType);
    if (!q.maybeEmpty && Array.isArray(result)) expect(result.length).toBeGreaterThan(0);
  });
});
