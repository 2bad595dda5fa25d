import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Registry } from "prom-client";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { FrontendMetrics } from "../../src/observability/metrics.js";
import { RequestLog } from "../../src/observability/requests.js";

// config/grafana-dashboard.json against the metrics fairgate really registers: every metric an
// expression names exists (histograms through _bucket/_sum/_count), every label it matches or
// groups by is one of that metric's labels, every legend names a label the expression keeps, and
// every expression parses (promtool).

interface Target {
  expr: string;
  legendFormat?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; datasource?: { uid?: string } }[] };
}

const dashboard = JSON.parse(
  readFileSync(new URL("../../config/grafana-dashboard.json", import.meta.url), "utf8"),
) as Dashboard;
const panels = dashboard.panels.filter((p) => p.type !== "row");
const targets = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));
/** Grafana's variables, as Grafana would expand them. */
const expand = (expr: string) => expr.replaceAll("$__rate_interval", "5m").replaceAll("$job", ".*");
/** Labels every scraped series carries besides its own. */
const TARGET_LABELS = ["job", "instance"];
const PROMQL_WORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan"]);

interface Parsed {
  /** Series names as written (histogram series with their suffix). */
  series: string[];
  /** Label names in matchers, by series name ("" for a selector without a name). */
  matchers: { series: string; labels: string[] }[];
  /** Label names of every by/without/on/ignoring clause. */
  grouping: string[];
}

/** Enough of PromQL to find the names a dashboard expression refers to. */
function parsePromQL(expr: string): Parsed {
  const out: Parsed = { series: [], matchers: [], grouping: [] };
  let e = expr.replace(/\{([^}]*)\}/g, (_, body: string) => {
    const labels = [...body.replace(/"(?:[^"\\]|\\.)*"/g, '""').matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map(
      (m) => m[1]!,
    );
    out.matchers.push({ series: "", labels });
    return `\u0000${out.matchers.length - 1}\u0000`;
  });
  // Tie each matcher to the name just before it.
  e = e.replace(/([a-zA-Z_:][\w:]*)?\s*\u0000(\d+)\u0000/g, (_, name: string | undefined, i: string) => {
    out.matchers[Number(i)]!.series = name ?? "";
    return ` ${name ?? ""} `;
  });
  e = e.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, labels: string) => {
    out.grouping.push(
      ...labels
        .split(",")
        .map((l) => l.trim())
        .filter(Boolean),
    );
    return " ";
  });
  e = e
    .replace(/\[[^\]]*\]/g, " ") // ranges
    .replace(/"(?:[^"\\]|\\.)*"/g, " ") // strings (label_replace and the like)
    .replace(/\b[a-zA-Z_]\w*\s*\(/g, "(") // functions and aggregations
    .replace(/\b\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*\b/g, " ") // durations (offset 5m)
    .replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/gi, " "); // numbers
  out.series = [...e.matchAll(/[a-zA-Z_:][\w:]*/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w.toLowerCase()));
  return out;
}

describe("config/grafana-dashboard.json", () => {
  /** Every metric fairgate registers: name → type and label names. */
  const registered = new Map<string, { type: string; labels: string[] }>();

  beforeAll(async () => {
    const registries: Registry[] = [
      new FrontendMetrics().registry,
      new RequestLog({ level: "silent", slowQueryMs: 1000 }).registry,
    ];
    for (const registry of registries)
      for (const m of await registry.getMetricsAsJSON()) {
        const labels = (registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames;
        if (!Array.isArray(labels))
          throw new Error(`cannot read the label names of ${m.name} (prom-client internals changed?)`);
        registered.set(m.name, { type: String(m.type), labels });
      }
    expect(registered.size).toBeGreaterThan(10);
  });

  /** The registered metric a series name belongs to, and whether it is a histogram's _bucket series. */
  function metricOf(series: string): { name: string; labels: string[]; bucket: boolean } | undefined {
    const exact = registered.get(series);
    if (exact && exact.type !== "histogram") return { name: series, labels: exact.labels, bucket: false };
    const m = /^(.*)_(bucket|sum|count)$/.exec(series);
    const base = m ? registered.get(m[1]!) : undefined;
    if (m && base?.type === "histogram") return { name: m[1]!, labels: base.labels, bucket: m[2] === "bucket" };
    return undefined;
  }

  it("the PromQL reader finds names, matchers and grouping", () => {
    expect(
      parsePromQL(
        'histogram_quantile(0.99, sum by (route, le) (rate(a_b_bucket{job=~"x|y", route!="a=b"}[5m]))) ' +
          "/ on(job) c offset 5m",
      ),
    ).toEqual({
      series: ["a_b_bucket", "c"],
      matchers: [{ series: "a_b_bucket", labels: ["job", "route"] }],
      grouping: ["route", "le", "job"],
    });
  });

  it("is a Grafana dashboard with a Prometheus data source variable that every panel and query uses", () => {
    expect(dashboard.uid).toBe("fairgate");
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: "datasource", type: "datasource", query: "prometheus" }),
    );
    expect(targets.length).toBeGreaterThan(10);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: "prometheus", uid: "${datasource}" });
      for (const t of p.targets ?? [])
        expect(t.datasource, p.title).toEqual({ type: "prometheus", uid: "${datasource}" });
    }
    for (const v of dashboard.templating.list.filter((v) => v.type === "query"))
      expect(v.datasource?.uid, v.name).toBe("${datasource}");
  });

  it("has unique panel ids and a layout whose panels fit in 24 columns without overlapping", () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const boxes = dashboard.panels.map((p) => ({ title: p.title, ...p.gridPos }));
    for (const b of boxes) expect(b.x + b.w, b.title).toBeLessThanOrEqual(24);
    for (const [i, a] of boxes.entries())
      for (const b of boxes.slice(i + 1)) {
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
  });

  it("uses only metrics fairgate registers, with their own labels", () => {
    const variableQueries = dashboard.templating.list.flatMap((v) => {
      const q = typeof v.query === "string" ? v.query : (v.query as { query?: string } | undefined)?.query;
      const m = /^label_values\(([a-zA-Z_:][\w:]*),\s*(\w+)\)$/.exec(q ?? "");
      return m ? [{ panel: `variable ${v.name}`, expr: `${m[1]}`, label: m[2]! }] : [];
    });
    for (const v of variableQueries) {
      expect(metricOf(v.expr), v.panel).toBeDefined();
      expect([...metricOf(v.expr)!.labels, ...TARGET_LABELS], v.panel).toContain(v.label);
    }
    for (const t of targets) {
      const where = `${t.panel}: ${t.expr}`;
      const parsed = parsePromQL(expand(t.expr));
      expect(parsed.series.length, where).toBeGreaterThan(0);
      const metrics = parsed.series.map((s) => {
        const m = metricOf(s);
        expect(m, `${where}: ${s} is not a metric fairgate registers`).toBeDefined();
        return m!;
      });
      for (const { series, labels } of parsed.matchers) {
        const m = metricOf(series)!;
        for (const l of labels)
          expect(
            [...m.labels, ...TARGET_LABELS, ...(m.bucket ? ["le"] : [])],
            `${where}: ${series} has no label ${l}`,
          ).toContain(l);
      }
      const known = new Set([
        ...metrics.flatMap((m) => m.labels),
        ...TARGET_LABELS,
        ...(metrics.some((m) => m.bucket) ? ["le"] : []),
      ]);
      for (const l of parsed.grouping) expect([...known], `${where}: no metric in it has the label ${l}`).toContain(l);
      // A legend can only name labels that survive the aggregation.
      for (const [, l] of (t.legendFormat ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g))
        expect(parsed.grouping, `${where}: legend {{${l}}}`).toContain(l);
    }
  });

  it("covers requests, latency, auth, queue, queriers, cache and retries", () => {
    const used = new Set(targets.flatMap((t) => parsePromQL(expand(t.expr)).series.map((s) => metricOf(s)?.name)));
    for (const name of [
      "fairgate_requests_total",
      "fairgate_request_duration_seconds",
      "fairgate_auth_failures_total",
      "loki_query_scheduler_queue_length",
      "loki_query_scheduler_queue_duration_seconds",
      "loki_query_scheduler_discarded_requests_total",
      "fairgate_querier_inflight_requests",
      "fairgate_querier_healthy",
      "fairgate_querier_time_seconds_total",
      "fairgate_cache_requests_total",
      "fairgate_cache_bytes_total",
      "fairgate_cache_errors_total",
      "fairgate_cache_bypassed",
      "fairgate_querier_retries_total",
    ])
      expect(used, name).toContain(name);
  });

  it("has expressions Prometheus parses (promtool check rules)", () => {
    const promtool = process.env.PROMTOOL_BIN ?? "promtool";
    const dir = mkdtempSync(join(tmpdir(), "fairgate-dashboard-"));
    try {
      const rules = {
        groups: [
          {
            name: "dashboard",
            rules: targets.map((t, i) => ({ record: `dashboard:expr_${i}`, expr: expand(t.expr) })),
          },
        ],
      };
      writeFileSync(join(dir, "rules.yaml"), stringify(rules));
      let out: string;
      try {
        out = execFileSync(promtool, ["check", "rules", join(dir, "rules.yaml")], { encoding: "utf8", stdio: "pipe" });
      } catch (e) {
        const err = e as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
        if (err.code === "ENOENT")
          throw new Error(
            `${promtool} is missing: install Prometheus (Debian: apt-get install prometheus; .ci/run does)`,
          );
        throw new Error(`promtool rejects an expression of the dashboard:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
      }
      expect(out).toMatch(new RegExp(`SUCCESS: ${targets.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
