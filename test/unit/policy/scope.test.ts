import { parser as promql } from "@prometheus-io/lezer-promql";
import { describe, expect, it } from "vitest";
import { thrownApiError } from "../../support/api-error.js";
import { promSelectors } from "../../support/selectors.js";
import { combinePolicies, type LabelPolicy } from "../../../src/policy/policy.js";
import { parseStrictly } from "../../../src/policy/syntax.js";
import { labelPolicyHeader } from "../../../src/policy/header.js";
import { scopeRead } from "../../../src/policy/scope.js";

const teamA: LabelPolicy[] = [[{ name: "namespace", op: "=", value: "team-a" }]];
const twoWays: LabelPolicy[] = [teamA[0]!, [{ name: "cluster", op: "=", value: "eu-1" }]];

function scoped(path: string, url: string, policies = teamA, body?: string) {
  const sources = [new URLSearchParams(url), ...(body === undefined ? [] : [new URLSearchParams(body)])];
  scopeRead(path, sources, policies);
  return sources.map((s) => [...s]);
}

const status = (fn: () => unknown) => thrownApiError(fn).status;

describe("read routes under a label policy", () => {
  it("restricts every query value, in the URL and in the form body", () => {
    expect(scoped("/api/v1/query_range", "query=up&query=down&step=15", teamA, "query=sum(x)")).toEqual([
      [
        ["step", "15"],
        ["query", 'up{namespace="team-a"}'],
        ["query", 'down{namespace="team-a"}'],
      ],
      [["query", 'sum(x{namespace="team-a"})']],
    ]);
    expect(scoped("/loki/api/v1/query", 'query={app="a"}')).toEqual([[["query", '{app="a", namespace="team-a"}']]]);
  });

  it("scopes Prometheus metadata with match[], adding the policies when the request has none", () => {
    expect(scoped("/prometheus/api/v1/labels", "start=1")).toEqual([
      [
        ["start", "1"],
        ["match[]", '{__name__=~".+", namespace="team-a"}'],
      ],
    ]);
    expect(scoped("/api/v1/label/job/values", "", twoWays)).toEqual([
      [
        ["match[]", '{__name__=~".+", namespace="team-a"}'],
        ["match[]", '{__name__=~".+", cluster="eu-1"}'],
      ],
    ]);
    // A selector in the body only: nothing is added to the URL (both are read, the union would widen).
    expect(scoped("/api/v1/series", "", teamA, "match[]=up")).toEqual([[], [["match[]", 'up{namespace="team-a"}']]]);
  });

  it("scopes Loki metadata, stats, volume, detected_*, patterns and tail with query", () => {
    for (const route of [
      "labels",
      "label/app/values",
      "index/stats",
      "index/volume",
      "index/volume_range",
      "detected_labels",
      "detected_fields",
      "detected_field/level/values",
      "patterns",
      "tail",
    ]) {
      expect(scoped(`/loki/api/v1/${route}`, "")).toEqual([[["query", '{namespace="team-a"}']]]);
      expect(scoped(`/loki/api/v1/${route}`, 'query={app="x"}')).toEqual([
        [["query", '{app="x", namespace="team-a"}']],
      ]);
    }
    expect(scoped("/loki/api/v1/series", 'match={app="x"}', twoWays)).toEqual([
      [
        ["match", '{app="x", namespace="team-a"}'],
        ["match", '{app="x", cluster="eu-1"}'],
      ],
    ]);
    expect(scoped("/loki/api/v1/series", "")).toEqual([[["match[]", '{namespace="team-a"}']]]);
  });

  it("refuses routes that cannot be scoped, and queries that cannot be parsed or expressed", () => {
    for (const path of ["/api/v1/metadata", "/api/v1/rules", "/api/v1/alerts", "/loki/api/v1/rules", "/other"])
      expect(status(() => scoped(path, ""))).toBe(403);
    expect(status(() => scoped("/api/v1/query", "query=up{"))).toBe(400);
    expect(status(() => scoped("/loki/api/v1/labels", "", twoWays))).toBe(403);
    expect(scoped("/api/v1/format_query", "query=up")).toEqual([[["query", "up"]]]);
  });
});

describe("X-Prom-Label-Policy", () => {
  it("names each tenant's policies as tenant:escaped selector, comma-separated; none for a whole tenant", () => {
    const value = labelPolicyHeader(
      new Map([
        ["shared", twoWays],
        ["open", [[]]],
      ]),
    )!;
    expect(value).toBe("shared:%7Bnamespace%3D%22team-a%22%7D,shared:%7Bcluster%3D%22eu-1%22%7D");
    expect(value.split(",").map((v) => decodeURIComponent(v.slice(v.indexOf(":") + 1)))).toEqual([
      '{namespace="team-a"}',
      '{cluster="eu-1"}',
    ]);
    expect(labelPolicyHeader(new Map([["open", [[]]]]))).toBeUndefined();
  });

  it("is read back as Loki's label-based access control reads it, whatever the values hold", () => {
    // Loki (pkg/labelaccess): split the value on ",", each part on its first ":", url.PathUnescape the
    // selector, and parse it with Prometheus' ParseMetricSelector.
    const nasty = ["a,b:c", 'q"uote', "back\\slash", "100%+1", "café ☕", "new\nline", "}"];
    const policies: LabelPolicy[] = nasty.map((value, i) => [
      { name: "ns", op: i % 2 ? "=~" : "=", value },
      { name: "app", op: "!=", value: "x" },
    ]);
    const value = labelPolicyHeader(new Map([["shared", policies]]))!;
    const read = value.split(",").map((part) => {
      const colon = part.indexOf(":");
      const selector = decodeURIComponent(part.slice(colon + 1));
      const tree = parseStrictly(promql, selector, "X-Prom-Label-Policy");
      expect(tree.topNode.firstChild?.name).toBe("VectorSelector");
      return [part.slice(0, colon), promSelectors(selector)[0]];
    });
    expect(read).toEqual(
      combinePolicies(policies).map((p) => ["shared", [...p].sort((a, b) => (a.name < b.name ? -1 : 1))]),
    );
  });
});
