import { describe, expect, it } from "vitest";
import { restrictLogQL, restrictLogSelectors, policySelector } from "../../../src/policy/logql.js";
import { combinePolicies, type LabelPolicy } from "../../../src/policy/policy.js";
import { restrictPromQL, restrictPromSelectors } from "../../../src/policy/promql.js";
import { thrownApiError } from "../../support/api-error.js";
import { CLAIM_ATTACKS, LOGQL_ATTACKS, PROMQL_ATTACKS } from "../../support/policy-corpus.js";
import { allowed, type Labels, logSelectors, matches, promSelectors } from "../../support/selectors.js";

const teamA: LabelPolicy[] = [[{ name: "namespace", op: "=~", value: "team-a-.*" }]];
const twoWays: LabelPolicy[] = [
  [{ name: "namespace", op: "=", value: "team-a-1" }],
  [
    { name: "cluster", op: "=", value: "eu-1" },
    { name: "app", op: "!=", value: "billing" },
  ],
];

const error = thrownApiError;

// Label sets the corpus is checked over: every namespace, app and cluster the attacks name.
const UNIVERSE: Labels[] = [];
for (const __name__ of ["up", "http_requests_total", "secret_total"])
  for (const namespace of ["team-a-1", "team-a-2", "team-b", "TEAM-B", "", "x"])
    for (const app of ["api", "billing", ""])
      for (const cluster of ["eu-1", "us-1"]) UNIVERSE.push({ __name__, namespace, app, cluster });

function expectConfined(selectors: ReturnType<typeof promSelectors>, policies: LabelPolicy[]) {
  expect(selectors.length).toBeGreaterThan(0);
  for (const sel of selectors)
    for (const labels of UNIVERSE)
      if (matches(labels, sel)) expect(allowed(labels, policies), JSON.stringify(labels)).toBe(true);
}

describe("PromQL rewrite", () => {
  it("adds the policy to every selector: subqueries, @, offsets, binary operations, functions", () => {
    expect(restrictPromQL('sum by (ns) (rate(foo{a="b",}[5m] offset 1m @ 100))', teamA)).toBe(
      'sum by (ns) (rate(foo{a="b", namespace=~"team-a-.*"}[5m] offset 1m @ 100))',
    );
    expect(restrictPromQL("max_over_time((a or b)[10m:1m] offset 1m) / on() group_left c", teamA)).toBe(
      'max_over_time((a{namespace=~"team-a-.*"} or b{namespace=~"team-a-.*"})[10m:1m] offset 1m) / on() group_left ' +
        'c{namespace=~"team-a-.*"}',
    );
    expect(restrictPromQL('{"my.metric", x=~"y"}', teamA)).toBe('{"my.metric", x=~"y", namespace=~"team-a-.*"}');
    expect(restrictPromQL("vector(1) + time()", teamA)).toBe("vector(1) + time()");
  });

  it("ORs alternatives per instant selector, per range function for matrix selectors", () => {
    expect(restrictPromQL("up offset 1m", twoWays)).toBe(
      '(up{namespace="team-a-1"} offset 1m or up{app!="billing", cluster="eu-1"} offset 1m)',
    );
    expect(restrictPromQL("sum(rate(x[5m] @ end()))", twoWays)).toBe(
      'sum((rate(x{namespace="team-a-1"}[5m] @ end()) or rate(x{app!="billing", cluster="eu-1"}[5m] @ end())))',
    );
    // absent_over_time answers for the whole set: present only when every part is absent.
    expect(restrictPromQL("absent_over_time(x[5m])", twoWays)).toBe(
      '(absent_over_time(x{namespace="team-a-1"}[5m]) and on() ' +
        'absent_over_time(x{app!="billing", cluster="eu-1"}[5m]))',
    );
    expect(restrictPromQL("absent(x)", twoWays)).toBe(
      'absent((x{namespace="team-a-1"} or x{app!="billing", cluster="eu-1"}))',
    );
  });

  it("refuses a bare range vector it cannot split between alternatives (403)", () => {
    const e = error(() => restrictPromQL("x[5m]", twoWays));
    expect([e.status, e.message]).toEqual([403, expect.stringContaining("range vector selector")]);
    expect(restrictPromQL("x[5m]", teamA)).toBe('x{namespace=~"team-a-.*"}[5m]');
  });

  it("answers 400 for what the grammar cannot parse, and 403 without any policy", () => {
    for (const q of ["up{", "sum(", 'foo{a="b" or c="d"}', "offset{a='b'}", "", "up{a=~}"]) {
      const e = error(() => restrictPromQL(q, teamA));
      expect([e.status, e.message]).toEqual([400, expect.stringMatching(/^invalid parameter "query": parse error/)]);
    }
    expect(error(() => restrictPromQL("up", [])).status).toBe(403);
  });

  it("leaves the query alone under a policy with no matcher", () => {
    expect(restrictPromQL("up", [[], ...teamA])).toBe("up");
  });

  it("scopes match[] with one selector per alternative, and adds the policies when there is none", () => {
    expect(restrictPromSelectors(['up{job="x"}'], twoWays)).toEqual([
      'up{job="x", namespace="team-a-1"}',
      'up{job="x", app!="billing", cluster="eu-1"}',
    ]);
    expect(restrictPromSelectors([], teamA)).toEqual(['{__name__=~".+", namespace=~"team-a-.*"}']);
    expect(error(() => restrictPromSelectors(["rate(up[5m])"], teamA)).status).toBe(400);
  });

  it.each(PROMQL_ATTACKS)("confines %s", (q) => {
    for (const policies of [teamA, twoWays]) expectConfined(promSelectors(restrictPromQL(q, policies)), policies);
  });
});

describe("LogQL rewrite", () => {
  it("adds the policy to every stream selector of log and metric queries, never to label filters", () => {
    expect(restrictLogQL('{app="a"} |= "x" | json | namespace="b"', teamA)).toBe(
      '{app="a", namespace=~"team-a-.*"} |= "x" | json | namespace="b"',
    );
    expect(restrictLogQL('sum by (app) (rate({app="a"} | logfmt | unwrap d [5m])) or vector(0)', teamA)).toBe(
      'sum by (app) (rate({app="a", namespace=~"team-a-.*"} | logfmt | unwrap d [5m])) or vector(0)',
    );
  });

  it("folds alternatives that differ in one label into one regex, and refuses the others (403)", () => {
    const ns: LabelPolicy[] = [
      [{ name: "namespace", op: "=", value: "team-a.1" }],
      [{ name: "namespace", op: "=~", value: "team-b-.*" }],
    ];
    expect(restrictLogQL('{app="a"}', ns)).toBe('{app="a", namespace=~"team-a\\\\.1|(?:team-b-.*)"}');
    const e = error(() => restrictLogQL('{app="a"}', twoWays));
    expect([e.status, e.message]).toEqual([403, expect.stringContaining("stream selector")]);
    expect(restrictLogQL("vector(1)", twoWays)).toBe("vector(1)");
  });

  it("answers 400 for what the grammar cannot parse", () => {
    for (const q of ["{}", '{app="a"', '{app="a"} | unwrap x', '{"app"="a"}']) {
      const e = error(() => restrictLogQL(q, teamA));
      expect(e.status).toBe(400);
    }
  });

  it("scopes series match[] per alternative; a request without a selector gets the policy", () => {
    expect(restrictLogSelectors(['{job="x"}'], twoWays)).toEqual([
      '{job="x", namespace="team-a-1"}',
      '{job="x", app!="billing", cluster="eu-1"}',
    ]);
    expect(policySelector(teamA)).toBe('{namespace=~"team-a-.*"}');
    expect(error(() => policySelector(twoWays)).status).toBe(403);
    expect(error(() => restrictLogSelectors(['{a="b"} |= "x"'], teamA)).status).toBe(400);
  });

  it.each(LOGQL_ATTACKS)("confines %s", (q) => {
    expectConfined(logSelectors(restrictLogQL(q, teamA)), teamA);
  });
});

describe("claim values in policies", () => {
  it.each(CLAIM_ATTACKS)("%j selects exactly that value, in both languages", (value) => {
    const eq: LabelPolicy[] = [[{ name: "namespace", op: "=", value }]];
    const both: LabelPolicy[] = [...eq, [{ name: "namespace", op: "=", value: "team-b" }]];
    for (const policies of [eq, both]) {
      const [prom] = promSelectors(restrictPromQL("up", policies));
      const [log] = logSelectors(restrictLogQL('{app="api"}', policies));
      for (const sel of [prom!, log!]) {
        expect(matches({ __name__: "up", app: "api", namespace: value }, sel)).toBe(true);
        for (const other of ["team-a-1", "TEAM-B", "", "x", `${value}x`])
          if (other !== value && !(policies.length === 2 && other === "team-b"))
            expect(matches({ __name__: "up", app: "api", namespace: other }, sel)).toBe(false);
      }
    }
  });

  it("refuses a value that is not Unicode text", () => {
    expect(error(() => restrictPromQL("up", [[{ name: "namespace", op: "=", value: "\ud800" }]])).status).toBe(403);
  });

  it("combines duplicates and one-label alternatives; keeps other alternatives apart", () => {
    expect(combinePolicies([...teamA, ...teamA])).toEqual(teamA);
    expect(combinePolicies(twoWays)).toHaveLength(2);
    expect(combinePolicies([])).toEqual([]);
  });
});
