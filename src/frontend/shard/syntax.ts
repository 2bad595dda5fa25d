// Small helpers over lezer trees, for the shard planner (the policy code keeps its own).
import type { LRParser } from "@lezer/lr";

export type SyntaxNode = ReturnType<LRParser["parse"]>["topNode"];

export function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

/** Every descendant (and the node itself) named `name`. */
export function descendants(node: SyntaxNode, names: ReadonlySet<string>): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const walk = (n: SyntaxNode) => {
    if (names.has(n.name)) out.push(n);
    for (const c of children(n)) walk(c);
  };
  walk(node);
  return out;
}

/** The text is trusted only when the grammar parsed it without error nodes. */
export function parsesCleanly(parser: LRParser, text: string): SyntaxNode | undefined {
  const tree = parser.parse(text);
  let bad = false;
  tree.iterate({
    enter(n) {
      if (n.type.isError) bad = true;
      return !bad;
    },
  });
  return bad ? undefined : tree.topNode;
}

/** A change to a query's text: [from, to) replaced by `text` (from = to: an insertion). */
export interface Edit {
  from: number;
  to: number;
  text: string;
}

/** `src` with the edits applied; edits never overlap (each comes from its own node of the tree). */
export function splice(src: string, edits: readonly Edit[]): string {
  let out = "";
  let pos = 0;
  for (const e of [...edits].sort((a, b) => a.from - b.from)) {
    out += src.slice(pos, e.from) + e.text;
    pos = e.to;
  }
  return out + src.slice(pos);
}

export const textOf = (n: SyntaxNode, src: string) => src.slice(n.from, n.to);

/** The value of a quoted literal ("..." with escapes, '...', or `...`). */
export function unquote(literal: string): string {
  if (literal.startsWith("`")) return literal.slice(1, -1);
  if (literal.startsWith("'")) return literal.slice(1, -1).replace(/\\(.)/g, "$1");
  try {
    return JSON.parse(literal) as string;
  } catch {
    return literal.slice(1, -1);
  }
}
