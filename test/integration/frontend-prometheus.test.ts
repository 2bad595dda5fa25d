import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend } from "../../src/frontend/app.js";
import {
  INSTANT_QUERIES,
  LABEL_NAMES,
  parameterCases,
  rangeQueries,
  SERIES_MATCHERS,
} from "../support/promql-corpus.js";
import { startPrometheus, type TestPrometheus } from "../support/prometheus.js";

const identity = { subject: "s", tenants: ["team-a"], actorPath: "users|0123456789abcdef0123456789abcdef", scopes: [] };
const DAY = 86_400;

// The frontend must answer exactly as Prometheus does: same series, order, values, warnings and
// errors, with multi-day queries split by day (alignment off).
describe("frontend conformance with a real Prometheus", () => {
  let prom: TestPrometheus;
  let frontend: Frontend;

  const post = async (base: string, path: string, form: Record<string, string | string[]>, viaFrontend: boolean) => {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
    // Prometheus takes label values by GET only; everything else as Grafana sends it, a POST form.
    const get = path.includes("/label/");
    const init = get
      ? {}
      : { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: body.toString() };
    const url = `${path}${get ? `?${body}` : ""}`;
    const res = viaFrontend
      ? await frontend.app.fetch(new Request(`http://frontend${url}`, init), { identity })
      : await fetch(`${base}${url}`, init);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const both = async (path: string, form: Record<string, string | string[]>) => {
    const [direct, through] = await Promise.all([post(prom.url, path, form, false), post(prom.url, path, form, true)]);
    return { direct, through };
  };

  beforeAll(async () => {
    prom = await startPrometheus({ days: 7 });
    frontend = createFrontend(
      parseConfig({
        frontend: {
          queriers: [{ url: prom.url, max_concurrent: 4 }],
          limits: {
            split_metric_queries_by_interval: "24h",
            split_metadata_queries_by_interval: "24h",
            align_queries_with_step: false,
          },
          // Splitting and merging are under test; the results cache is compared with Prometheus in its own test.
          cache: { results: { enabled: false }, metadata: { enabled: false } },
        },
      }).frontend!,
    );
  }, 180_000);
  afterAll(async () => {
    frontend?.close();
    await prom?.close();
  });

  // Over the whole week at 5m; and an unaligned 2½-day window at 1m whose split points fall between steps.
  const windows = () => [
    { name: "7d step 5m", start: String(prom.start), end: String(prom.end), step: "300" },
    {
      name: "2.5d unaligned step 1m",
      start: String(prom.start + DAY + 3_917),
      end: String(prom.start + 3.5 * DAY + 1_234.5),
      step: "60",
    },
  ];

  it("answers every corpus range query exactly as Prometheus does, split by day", async () => {
    const queries = rangeQueries(prom);
    expect(queries.length).toBeGreaterThanOrEqual(30);
    let compared = 0;
    for (const w of windows())
      for (const q of queries) {
        const { direct, through } = await both("/api/v1/query_range", {
          query: q.query,
          start: w.start,
          end: w.end,
          step: w.step,
        });
        const what = `${q.name} (${w.name})`;
        expect(through.status, what).toBe(direct.status);
        expect(through.body, what).toEqual(direct.body);
        if (q.expectError) expect(direct.body.status, what).toBe("error");
        compared++;
      }
    expect(compared).toBe(queries.length * 2);
  }, 180_000); // 132 queries, each run twice: about 30 s here, more on a busy machine

  it("splits them: a week goes to the queriers as day pieces", async () => {
    const res = await frontend.app.fetch(
      new Request(
        `http://frontend/api/v1/query_range?${new URLSearchParams({
          query: "up",
          start: String(prom.start),
          end: String(prom.end),
          step: "300",
        })}`,
      ),
      { identity },
    );
    expect(res.status).toBe(200);
    expect(Number(res.headers.get("x-fairgate-splits"))).toBeGreaterThanOrEqual(7);
    expect(res.headers.get("server-timing")).toMatch(/queue;dur=\d+, querier;dur=\d+/);
  });

  it("answers instant queries exactly as Prometheus does", async () => {
    expect(INSTANT_QUERIES.length).toBeGreaterThanOrEqual(8);
    for (const q of INSTANT_QUERIES) {
      const { direct, through } = await both("/api/v1/query", { query: q.query, time: String(prom.end) });
      expect(through, q.name).toEqual(direct);
    }
  });

  it("answers labels, label values and series over several days as Prometheus does", async () => {
    const range = { start: String(prom.start + 3_600), end: String(prom.end - 7_200) };
    const labels = await both("/api/v1/labels", range);
    expect(labels.through).toEqual(labels.direct);
    expect((labels.direct.body as { data: string[] }).data).toEqual(expect.arrayContaining(LABEL_NAMES));
    for (const name of ["job", "instance", "__name__"]) {
      const values = await both(`/api/v1/label/${name}/values`, range);
      expect(values.through, name).toEqual(values.direct);
    }
    for (const m of SERIES_MATCHERS) {
      const series = await both("/api/v1/series", { ...range, "match[]": m.match });
      expect(series.through, m.match.join(" ")).toEqual(series.direct);
    }
  });

  // Times and steps as Go writes them, bad ones, checks in Prometheus' order, metadata with end before start.
  it("reads parameters as Prometheus does: same status and body, for good and bad ones", async () => {
    const cases = parameterCases(prom);
    expect(cases.length).toBeGreaterThanOrEqual(100);
    const statuses = new Set<number>();
    for (const c of cases) {
      const { direct, through } = await both(`/api/v1/${c.route}`, c.form);
      expect(through, `${c.name}: ${JSON.stringify(c.form)}`).toEqual(direct);
      if (c.nonEmpty) expect((direct.body.data as unknown[]).length, c.name).toBeGreaterThan(0);
      statuses.add(direct.status);
    }
    expect([...statuses].sort()).toEqual([200, 400]);
  }, 120_000);

  it("refuses bad parameters with Prometheus' own error format", async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ query: "up", start: "abc", end: "1", step: "60" }, /invalid parameter "start"/],
      [{ query: "up", start: "10", end: "1", step: "60" }, /end timestamp must not be before start time/],
      [{ query: "up", start: "1", end: "10", step: "0" }, /zero or negative query resolution step/],
      [{ query: "up", start: "0", end: String(30 * DAY), step: "1" }, /exceeded maximum resolution of 11,000 points/],
      [{ start: "1", end: "10", step: "1" }, /^1:1: parse error: no expression found in input$/],
    ];
    for (const [form, message] of cases) {
      const { status, body } = await post(prom.url, "/api/v1/query_range", form, true);
      expect(status, JSON.stringify(form)).toBe(400);
      expect(body.status).toBe("error");
      expect(body.errorType).toBe("bad_data");
      expect(body.error as string).toMatch(message);
    }
  });
});
