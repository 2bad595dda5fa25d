// Policy templates as operators write them in the tenant rules: `namespace=~"team-a-.*"` or
// `{cluster="eu-1", app!="billing"}`, where "$value" stands for a claim value. The template is
// parsed once (with the PromQL grammar, whose matchers LogQL shares); a claim value is substituted
// into decoded matcher values, never into query text, and regex-escaped in regex matchers, so no
// claim can add a matcher, close a string or widen a regex.
import { parser } from "@prometheus-io/lezer-promql";
import { escapeRegex, unquote } from "./literal.js";
import { isLabelName, type LabelMatcher, type LabelPolicy, type MatchOp } from "./policy.js";
import { children, parseStrictly } from "./syntax.js";

export const CLAIM_VALUE = "$value";

export class PolicyTemplateError extends Error {}

/** Parses a template; throws PolicyTemplateError with the reason (for configuration errors). */
export function parsePolicyTemplate(text: string): LabelPolicy {
  const braced = text.trim().startsWith("{") ? text.trim() : `{${text}}`;
  let top: ReturnType<typeof parseStrictly>["topNode"]["firstChild"];
  try {
    top = parseStrictly(parser, braced, "label policy").topNode.firstChild;
  } catch (e) {
    throw new PolicyTemplateError(`${(e as Error).message} in ${JSON.stringify(text)}`);
  }
  const list = top?.name === "VectorSelector" && !top.nextSibling ? top.getChild("LabelMatchers") : null;
  if (!list || top?.getChild("Identifier"))
    throw new PolicyTemplateError(`a label policy is a list of label matchers, got ${JSON.stringify(text)}`);
  const policy: LabelMatcher[] = [];
  for (const m of children(list)) {
    const [name, op, value] = [m.getChild("LabelName"), m.getChild("MatchOp"), m.getChild("StringLiteral")];
    const decoded = value && unquote(braced.slice(value.from, value.to));
    if (m.name !== "UnquotedLabelMatcher" || !name || !op || decoded === undefined || decoded === null)
      throw new PolicyTemplateError(
        `${JSON.stringify(braced.slice(m.from, m.to))}: write a matcher as label="value" with a plain label name`,
      );
    const n = braced.slice(name.from, name.to);
    if (!isLabelName(n)) throw new PolicyTemplateError(`${JSON.stringify(n)} is not a label name`);
    policy.push({ name: n, op: braced.slice(op.from, op.to) as MatchOp, value: decoded });
  }
  if (policy.length === 0) throw new PolicyTemplateError("a label policy needs at least one matcher");
  return policy;
}

export function usesClaimValue(policy: LabelPolicy): boolean {
  return policy.some((m) => m.value.includes(CLAIM_VALUE));
}

/**
 * The policy for one claim value. An empty value grants nothing: `namespace=""` would select every
 * series without a namespace label, which no one meant to grant.
 */
export function instantiate(policy: LabelPolicy, claimValue: string): LabelPolicy | undefined {
  if (claimValue === "") return undefined;
  return policy.map((m) => {
    const v = m.op === "=~" || m.op === "!~" ? escapeRegex(claimValue) : claimValue;
    return { ...m, value: m.value.split(CLAIM_VALUE).join(v) };
  });
}
