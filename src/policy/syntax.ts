// Parsing with the languages' official grammars. Lezer parsers recover from errors by inserting
// error nodes, so a tree is only trusted when it has none: anything else is a 400.
import type { LRParser } from "@lezer/lr";
import { ApiError, printable } from "../http/errors.js";

export type Tree = ReturnType<LRParser["parse"]>;
export type SyntaxNode = Tree["topNode"];

export function parseStrictly(parser: LRParser, text: string, what: string): Tree {
  const tree = parser.parse(text);
  let bad: { from: number; to: number } | undefined;
  tree.iterate({
    enter(n) {
      if (bad) return false;
      if (n.type.isError) bad = { from: n.from, to: n.to };
      return undefined;
    },
  });
  if (bad) {
    const before = text.slice(0, bad.from);
    const line = before.split("\n").length;
    const col = bad.from - before.lastIndexOf("\n");
    const near = text.slice(bad.from, Math.max(bad.to, bad.from + 12));
    throw new ApiError(
      "bad_data",
      `${what}: parse error at line ${line}, col ${col}` +
        (near ? ` near "${printable(near, 24)}"` : " (unexpected end)"),
    );
  }
  return tree;
}

export function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

/** Every descendant named `name`, outermost first, not looking inside a match. */
export function findAll(node: SyntaxNode, name: string): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (const c of children(node)) {
    if (c.name === name) out.push(c);
    else out.push(...findAll(c, name));
  }
  return out;
}

/**
 * The text of `node` with some descendants replaced: `replace` returns new text for a node, or
 * undefined to keep it and look inside. The tree decides what is replaced; the text between the
 * replaced nodes is copied as it was written.
 */
export function rewriteText(node: SyntaxNode, src: string, replace: (n: SyntaxNode) => string | undefined): string {
  const own = replace(node);
  if (own !== undefined) return own;
  let out = "";
  let pos = node.from;
  for (let c = node.firstChild; c; c = c.nextSibling) {
    out += src.slice(pos, c.from) + rewriteText(c, src, replace);
    pos = c.to;
  }
  return out + src.slice(pos, node.to);
}
