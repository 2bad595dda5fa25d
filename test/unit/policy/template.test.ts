import { describe, expect, it } from "vitest";
import { restrictLogQL } from "../../../src/policy/logql.js";
import { restrictPromQL } from "../../../src/policy/promql.js";
import { instantiate, parsePolicyTemplate, PolicyTemplateError, usesClaimValue } from "../../../src/policy/template.js";
import { CLAIM_ATTACKS } from "../../support/policy-corpus.js";
import { logSelectors, matches, promSelectors } from "../../support/selectors.js";

describe("policy templates", () => {
  it("reads a bare matcher list or a braced selector", () => {
    expect(parsePolicyTemplate('namespace=~"team-a-.*"')).toEqual([
      { name: "namespace", op: "=~", value: "team-a-.*" },
    ]);
    expect(parsePolicyTemplate(`{cluster="eu-1", app!='billing'}`)).toEqual([
      { name: "cluster", op: "=", value: "eu-1" },
      { name: "app", op: "!=", value: "billing" },
    ]);
  });

  it.each([
    ["", /at least one matcher/],
    ["up", /parse error/],
    ['up{a="b"}', /parse error/],
    ['{__name__="up"} or {a="b"}', /list of label matchers/],
    ['{"a.b"="c"}', /plain label name/],
    ['namespace="a" or app="b"', /parse error/],
    ['{a="b"} offset 1m', /list of label matchers/],
    ['a="\\q"', /parse error|plain label name/],
  ])("refuses %j with a reason", (text, why) => {
    expect(() => parsePolicyTemplate(text)).toThrow(PolicyTemplateError);
    expect(() => parsePolicyTemplate(text)).toThrow(why);
  });

  it("substitutes $value into values, regex-escaped in regex matchers", () => {
    const t = parsePolicyTemplate('namespace=~"team-$value-.*", owner="$value"');
    expect(usesClaimValue(t)).toBe(true);
    expect(instantiate(t, "a.b")).toEqual([
      { name: "namespace", op: "=~", value: "team-a\\.b-.*" },
      { name: "owner", op: "=", value: "a.b" },
    ]);
    expect(instantiate(t, "")).toBeUndefined();
  });

  it.each(CLAIM_ATTACKS.filter((v) => v !== ""))("a claim of %j grants exactly that value", (value) => {
    const t = parsePolicyTemplate('namespace=~"$value", owner="$value"');
    const policy = instantiate(t, value)!;
    const [prom] = promSelectors(restrictPromQL("up", [policy]));
    const [log] = logSelectors(restrictLogQL('{app="x"}', [policy]));
    for (const sel of [prom!, log!]) {
      expect(matches({ __name__: "up", app: "x", namespace: value, owner: value }, sel)).toBe(true);
      expect(matches({ __name__: "up", app: "x", namespace: `${value}-other`, owner: value }, sel)).toBe(false);
      expect(matches({ __name__: "up", app: "x", namespace: "team-b", owner: value }, sel)).toBe(false);
    }
  });
});
