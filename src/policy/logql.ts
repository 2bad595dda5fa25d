// LogQL under a label policy: every stream selector, in log and metric queries, gets the policy's
// matchers, found through the official grammar. A stream selector has no OR and LogQL has no union
// of log queries, so policies that combinePolicies cannot fold into one are refused (403) where a
// query has a stream selector; the series API, which unions its match[] selectors, takes them all.
import { parser } from "@grafana/lezer-logql";
import { ApiError, printable } from "../http/errors.js";
import { checkRewrite } from "./check.js";
import { effectivePolicies, inexpressible, type LabelPolicy, matcherText } from "./policy.js";
import { type Language, printQuery, printTree } from "./print.js";
import { findAll, parseStrictly, rewriteText, type SyntaxNode } from "./syntax.js";

const LOGQL: Language = { parser, strings: new Set(["String"]), comment: "LineComment" };

const matchersOf = (sel: SyntaxNode) => findAll(sel, "Matcher");

function restrictedSelector(sel: SyntaxNode, src: string, policy: LabelPolicy): string {
  const written = matchersOf(sel).map((m) => src.slice(m.from, m.to));
  return `{${[...written, ...policy.map(matcherText)].join(", ")}}`;
}

/** The query as it is forwarded under a label policy, before the policy is added (see print.ts). */
export const printLogQL = (query: string, what = "query"): string =>
  printQuery(LOGQL, query, `invalid parameter "${what}"`).text;

/** `query` restricted to what the policies allow; 400 when the grammar cannot parse it. */
export function restrictLogQL(query: string, policies: readonly LabelPolicy[], what = "query"): string {
  const invalid = `invalid parameter "${what}"`;
  const tree = parseStrictly(parser, query, invalid);
  const combined = effectivePolicies(policies);
  if (!combined) return query;
  // Rewritten from the printed tree, never the received text: see print.ts.
  const printed = printTree(LOGQL, tree, query, invalid);
  const out = rewriteText(printed.tree.topNode, printed.text, (n) => {
    if (n.name !== "Selector") return undefined;
    if (combined.length > 1) throw inexpressible("a stream selector");
    return restrictedSelector(n, printed.text, combined[0]!);
  });
  checkRewrite(parser, out, "Selector", matchersOf, combined);
  return out;
}

/** The stream selector for a request that gave none (labels, volume, ...): the single policy. */
export function policySelector(policies: readonly LabelPolicy[]): string | undefined {
  const combined = effectivePolicies(policies);
  if (!combined) return undefined;
  if (combined.length > 1) throw inexpressible("a request without a query");
  return `{${combined[0]!.map(matcherText).join(", ")}}`;
}

/** Loki's series match[]: one selector per policy (Loki answers the union); without any, the policies. */
export function restrictLogSelectors(matches: readonly string[], policies: readonly LabelPolicy[]): string[] {
  const combined = effectivePolicies(policies);
  if (!combined) return [...matches];
  if (matches.length === 0) return combined.map((p) => `{${p.map(matcherText).join(", ")}}`);
  const out: string[] = [];
  for (const m of matches) {
    const printed = printQuery(LOGQL, m, 'invalid parameter "match[]"');
    const sel = findAll(printed.tree.topNode, "Selector");
    if (sel.length !== 1 || printed.text.slice(sel[0]!.from, sel[0]!.to) !== printed.text)
      throw new ApiError("bad_data", `invalid parameter "match[]": expected a stream selector, got "${printable(m)}"`);
    for (const p of combined) out.push(restrictedSelector(sel[0]!, printed.text, p));
  }
  for (const o of out) checkRewrite(parser, o, "Selector", matchersOf, combined);
  return out;
}
