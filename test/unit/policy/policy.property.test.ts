// Property: whatever the query and the policies, every selector of the rewritten query selects only
// label sets some policy allows (checked over every label set of a small universe); a lone
// selector selects exactly what it selected before, within the policies. fast-check shrinks a
// failing case to the smallest query and policies that fail.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../../src/http/errors.js";
import { escapeRegex } from "../../../src/policy/literal.js";
import { restrictLogQL } from "../../../src/policy/logql.js";
import { combinePolicies, type LabelMatcher, type LabelPolicy, matcherText } from "../../../src/policy/policy.js";
import { restrictPromQL } from "../../../src/policy/promql.js";
import { allowed, type Labels, logSelectors, matches, promSelectors } from "../../support/selectors.js";

const NAMES = ["up", "http_requests_total"];
const VALUES = { namespace: ["team-a-1", "team-a-2", "team-b", 'q"uo\\te', ""], app: ["api", "billing", ""] };
const UNIVERSE: Labels[] = [];
for (const __name__ of NAMES)
  for (const namespace of VALUES.namespace)
    for (const app of VALUES.app)
      for (const cluster of ["eu-1", ""]) UNIVERSE.push({ __name__, namespace, app, cluster });

const label = fc.constantFrom("namespace", "app", "cluster");
const plain = fc.constantFrom(...VALUES.namespace, ...VALUES.app, "eu-1", "x");
const regex = fc.oneof(
  fc.constantFrom("team-a-.*", ".*", ".+", "team-b|api", "", "(?:eu|us)-1"),
  plain.map(escapeRegex),
);
const matcher: fc.Arbitrary<LabelMatcher> = fc.oneof(
  fc.record({ name: label, op: fc.constantFrom("=" as const, "!=" as const), value: plain }),
  fc.record({ name: label, op: fc.constantFrom("=~" as const, "!~" as const), value: regex }),
);
const policies: fc.Arbitrary<LabelPolicy[]> = fc.array(fc.array(matcher, { minLength: 1, maxLength: 3 }), {
  minLength: 1,
  maxLength: 3,
});

const selectorBody = fc.array(
  fc.oneof(matcher, fc.record({ name: fc.constant("__name__"), op: fc.constant("=~" as const), value: regex })),
  { maxLength: 2 },
);
const promSelector = fc
  .tuple(fc.option(fc.constantFrom(...NAMES), { nil: undefined }), selectorBody)
  .map(([name, ms]) => `${name ?? ""}{${[...(name ? [] : ['__name__=~".+"']), ...ms.map(matcherText)].join(", ")}}`);

const promQuery = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    promSelector,
    promSelector.map((s) => `${s} offset 1m`),
    promSelector.map((s) => `rate(${s}[5m] @ end())`),
    promSelector.map((s) => `absent_over_time(${s}[5m])`),
    promSelector.map((s) => `quantile_over_time(0.5, ${s}[5m] offset 1m)`),
    fc.constant("vector(1)"),
    tie("e").map((e) => `sum by (namespace) (${e})`),
    tie("e").map((e) => `absent(${e})`),
    tie("e").map((e) => `label_replace(${e}, "namespace", "team-a-1", "", "")`),
    tie("e").map((e) => `max_over_time((${e})[5m:1m])`),
    fc
      .tuple(tie("e"), tie("e"), fc.constantFrom("or", "unless", "and", "+ on(namespace) group_left()"))
      .map(([a, b, op]) => `(${a}) ${op} (${b})`),
  ),
})).e;

const logSelector = fc
  .tuple(fc.constantFrom("api", "billing"), selectorBody)
  .map(
    ([app, ms]) => `{${[`app!="${app}x"`, ...ms.filter((m) => m.name !== "__name__").map(matcherText)].join(", ")}}`,
  );
const logQuery = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small" },
    logSelector,
    logSelector.map((s) => `${s} |= "x" | json | namespace="team-b"`),
    logSelector.map((s) => `count_over_time(${s} | label_format namespace="team-b" [5m])`),
    tie("e").map((e) => (e.startsWith("{") ? `sum by (namespace) (rate(${e} [1m]))` : `sum by (namespace) (${e})`)),
  ),
})).e;

// The rewrite, or "refused" when it is refused where it may be: only where alternatives stay that one
// selector cannot express (403). Anything else thrown fails the property.
function rewriteOrRefused(rewrite: typeof restrictPromQL, q: string, ps: LabelPolicy[]): string | "refused" {
  try {
    return rewrite(q, ps);
  } catch (e) {
    if (e instanceof ApiError && e.status === 403 && combinePolicies(ps).length > 1) return "refused";
    throw e;
  }
}

function confined(selectors: LabelMatcher[][], ps: LabelPolicy[]): boolean {
  return selectors.every((sel) => UNIVERSE.every((l) => !matches(l, sel) || allowed(l, ps)));
}

describe("label policy rewrite, property", () => {
  it("PromQL: every selector of the rewrite stays inside the policies", () => {
    fc.assert(
      fc.property(promQuery, policies, (q, ps) => {
        const out = rewriteOrRefused(restrictPromQL, q, ps);
        return out === "refused" || confined(promSelectors(out), ps);
      }),
      { numRuns: 400, seed: 18 },
    );
  });

  it("PromQL: a lone selector keeps everything it selected inside the policies", () => {
    fc.assert(
      fc.property(promSelector, policies, (q, ps) => {
        const before = promSelectors(q)[0]!;
        const after = promSelectors(restrictPromQL(q, ps));
        return UNIVERSE.every((l) => after.some((sel) => matches(l, sel)) === (matches(l, before) && allowed(l, ps)));
      }),
      { numRuns: 400, seed: 18 },
    );
  });

  it("LogQL: every stream selector of the rewrite stays inside the policies, and keeps what it had", () => {
    fc.assert(
      fc.property(logQuery, policies, (q, ps) => {
        const out = rewriteOrRefused(restrictLogQL, q, ps);
        if (out === "refused") return true;
        const [before, after] = [logSelectors(q), logSelectors(out)];
        expect(after).toHaveLength(before.length);
        return (
          confined(after, ps) &&
          before.every((b, i) => UNIVERSE.every((l) => matches(l, after[i]!) === (matches(l, b) && allowed(l, ps))))
        );
      }),
      { numRuns: 400, seed: 18 },
    );
  });
});
