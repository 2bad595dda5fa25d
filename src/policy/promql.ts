// PromQL under a label policy: every vector and matrix selector gets the policy's matchers, found
// through the official grammar. Several policies are OR'ed per selector:
//   instant selectors (with their offset and @):  (sel{..., p1} or sel{..., p2})
//   matrix selectors, where `or` cannot go:        (f(sel{..., p1}[5m]) or f(sel{..., p2}[5m]))
// at the function that takes the range: every range function works series by series, so the union
// of its answers is its answer over the union (absent_over_time, which answers for the whole set,
// is joined with `and on()` instead: present only if every part is absent). `or` keeps each series
// once (a series two policies allow is the same series), so nothing outside the policies is selected.
import { parser } from "@prometheus-io/lezer-promql";
import { ApiError, printable } from "../http/errors.js";
import { checkRewrite } from "./check.js";
import { effectivePolicies, inexpressible, type LabelPolicy, matcherText } from "./policy.js";
import { type Language, printQuery, printTree } from "./print.js";
import { children, parseStrictly, rewriteText, type SyntaxNode } from "./syntax.js";

const PROMQL: Language = { parser, strings: new Set(["StringLiteral"]), comment: "LineComment" };

// Nodes that wrap a selector and must stay attached to it (offset, @, and the range of a matrix).
const WRAPPERS = new Set(["OffsetExpr", "StepInvariantExpr", "SmoothedExpr", "AnchoredExpr", "MatrixSelector"]);

interface Chain {
  selector: SyntaxNode;
  range: boolean;
}

// A selector with its modifiers, seen from the outermost of them; undefined for anything else
// (a subquery under an offset is not a selector: its inner selectors are found on their own).
function chainOf(node: SyntaxNode): Chain | undefined {
  if (node.name === "VectorSelector") return { selector: node, range: false };
  if (!WRAPPERS.has(node.name) || !node.firstChild) return undefined;
  const inner = chainOf(node.firstChild);
  return inner && { selector: inner.selector, range: inner.range || node.name === "MatrixSelector" };
}

const matchersOf = (sel: SyntaxNode): SyntaxNode[] => {
  const list = sel.getChild("LabelMatchers");
  return list ? children(list) : [];
};

/** The selector node rebuilt with the policy's matchers after the ones the query wrote. */
function restrictedSelector(sel: SyntaxNode, src: string, policy: LabelPolicy): string {
  const name = sel.getChild("Identifier");
  const written = matchersOf(sel).map((m) => src.slice(m.from, m.to));
  const all = [...written, ...policy.map(matcherText)];
  return `${name ? src.slice(name.from, name.to) : ""}{${all.join(", ")}}`;
}

const at = (n: SyntaxNode) => `${n.from}:${n.to}`;

function rewrite(
  root: SyntaxNode,
  src: string,
  policies: LabelPolicy[],
  forced = new Map<string, LabelPolicy>(),
): string {
  const chainFor = (node: SyntaxNode, chain: Chain, p: LabelPolicy): string =>
    rewriteText(node, src, (n) =>
      n.from === chain.selector.from && n.name === "VectorSelector" ? restrictedSelector(n, src, p) : undefined,
    );

  return rewriteText(root, src, (node) => {
    const chain = chainOf(node);
    if (chain) {
      const only = forced.get(at(node)) ?? (policies.length === 1 ? policies[0] : undefined);
      if (only) return chainFor(node, chain, only);
      if (chain.range) throw inexpressible("a range vector selector outside a range function");
      return `(${policies.map((p) => chainFor(node, chain, p)).join(" or ")})`;
    }
    if (node.name !== "FunctionCall" || policies.length < 2) return undefined;
    const args = children(node.getChild("FunctionCallBody")!).filter((a) => chainOf(a)?.range);
    if (args.length === 0 || args.every((a) => forced.has(at(a)))) return undefined;
    const fn = src.slice(node.firstChild!.from, node.firstChild!.to);
    const parts = policies.map((p): string => {
      const choice = new Map(forced);
      for (const a of args) choice.set(at(a), p);
      return rewrite(node, src, policies, choice);
    });
    return `(${parts.join(fn === "absent_over_time" ? " and on() " : " or ")})`;
  });
}

/** The query as it is forwarded under a label policy, before the policy is added (see print.ts). */
export const printPromQL = (query: string, what = "query"): string =>
  printQuery(PROMQL, query, `invalid parameter "${what}"`).text;

/** `query` restricted to what the policies allow; 400 when the grammar cannot parse it. */
export function restrictPromQL(query: string, policies: readonly LabelPolicy[], what = "query"): string {
  const invalid = `invalid parameter "${what}"`;
  const tree = parseStrictly(parser, query, invalid);
  const combined = effectivePolicies(policies);
  if (!combined) return query;
  // Rewritten from the printed tree, never the received text: see print.ts.
  const printed = printTree(PROMQL, tree, query, invalid);
  const out = rewrite(printed.tree.topNode, printed.text, combined);
  checkRewrite(parser, out, "VectorSelector", matchersOf, combined);
  return out;
}

/**
 * A series selector (match[]) restricted to the policies: one selector per policy, which the APIs
 * that take match[] answer as a union. Without any selector, the policies themselves.
 */
export function restrictPromSelectors(matches: readonly string[], policies: readonly LabelPolicy[]): string[] {
  const combined = effectivePolicies(policies);
  if (!combined) return [...matches];
  // Every series has a name: `__name__=~".+"` makes a policy of only negative matchers a valid selector.
  if (matches.length === 0) return combined.map((p) => `{${['__name__=~".+"', ...p.map(matcherText)].join(", ")}}`);
  const out: string[] = [];
  for (const m of matches) {
    const printed = printQuery(PROMQL, m, 'invalid parameter "match[]"');
    const top = printed.tree.topNode.firstChild;
    if (top?.name !== "VectorSelector" || top.nextSibling)
      throw new ApiError("bad_data", `invalid parameter "match[]": expected a series selector, got "${printable(m)}"`);
    for (const p of combined) out.push(restrictedSelector(top, printed.text, p));
  }
  for (const o of out) checkRewrite(parser, o, "VectorSelector", matchersOf, combined);
  return out;
}
