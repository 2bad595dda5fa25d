// Reads the selectors of a PromQL or LogQL query back as matchers, and evaluates matchers over label
// sets the way Prometheus and Loki do (a missing label is the empty value; regexes are anchored and
// dot matches newline). Tests use it to check what a rewritten query can select.
import { parser as logql } from "@grafana/lezer-logql";
import { parser as promql } from "@prometheus-io/lezer-promql";
import { unquote } from "../../src/policy/literal.js";
import type { LabelMatcher, LabelPolicy, MatchOp } from "../../src/policy/policy.js";
import { children, findAll, parseStrictly, type SyntaxNode } from "../../src/policy/syntax.js";

export type Labels = Record<string, string>;

function literal(src: string, n: SyntaxNode | null): string {
  const v = n && unquote(src.slice(n.from, n.to));
  if (v === undefined || v === null) throw new Error(`cannot read literal in ${src}`);
  return v;
}

/** Every vector selector of a PromQL query, the metric name as a __name__ matcher. */
export function promSelectors(query: string): LabelMatcher[][] {
  const root = parseStrictly(promql, query, "query").topNode;
  return findAll(root, "VectorSelector").map((sel) => {
    const out: LabelMatcher[] = [];
    const name = sel.getChild("Identifier");
    if (name) out.push({ name: "__name__", op: "=", value: query.slice(name.from, name.to) });
    const list = sel.getChild("LabelMatchers");
    for (const m of list ? children(list) : []) {
      if (m.name === "QuotedLabelName") {
        out.push({ name: "__name__", op: "=", value: literal(query, m.getChild("StringLiteral")) });
        continue;
      }
      const labelName =
        m.name === "UnquotedLabelMatcher"
          ? query.slice(m.getChild("LabelName")!.from, m.getChild("LabelName")!.to)
          : literal(query, m.getChild("QuotedLabelName")!.getChild("StringLiteral"));
      const op = m.getChild("MatchOp")!;
      out.push({ name: labelName, op: query.slice(op.from, op.to) as MatchOp, value: literal(query, m.lastChild) });
    }
    return out;
  });
}

/** Every stream selector of a LogQL query. */
export function logSelectors(query: string): LabelMatcher[][] {
  const root = parseStrictly(logql, query, "query").topNode;
  return findAll(root, "Selector").map((sel) =>
    findAll(sel, "Matcher").map((m) => {
      const [name, op, value] = children(m);
      return {
        name: query.slice(name!.from, name!.to),
        op: query.slice(op!.from, op!.to) as MatchOp,
        value: literal(query, value!),
      };
    }),
  );
}

const regexes = new Map<string, RegExp>();
function fullMatch(re: string, v: string): boolean {
  let r = regexes.get(re);
  // RE2's leading case-insensitive flag, which JavaScript writes as a flag of the whole pattern.
  const i = re.startsWith("(?i)");
  if (!r) regexes.set(re, (r = new RegExp(`^(?:${i ? re.slice(4) : re})$`, i ? "si" : "s")));
  return r.test(v);
}

export function matches(labels: Labels, ms: readonly LabelMatcher[]): boolean {
  return ms.every((m) => {
    const v = labels[m.name] ?? "";
    if (m.op === "=") return v === m.value;
    if (m.op === "!=") return v !== m.value;
    if (m.op === "=~") return fullMatch(m.value, v);
    return !fullMatch(m.value, v);
  });
}

export function allowed(labels: Labels, policies: readonly LabelPolicy[]): boolean {
  return policies.some((p) => matches(labels, p));
}
