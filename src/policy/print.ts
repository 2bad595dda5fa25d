// What is forwarded under a label policy is printed from the syntax tree that was checked, never the text
// that was received: any place where this grammar and the backend's parser read the same text differently
// (a comment that one ends at "\r" and the other does not) would otherwise be a way around the policy.
// Printing keeps each token the tree holds and nothing else: comments are dropped, whitespace becomes one
// space, string literals are written again from their value. The printed text is parsed again and must give
// the same tree, token for token; anything the tree does not represent exactly is refused (400).
import type { LRParser } from "@lezer/lr";
import { ApiError, printable } from "../http/errors.js";
import { quote, unquote } from "./literal.js";
import { children, parseStrictly, type SyntaxNode, type Tree } from "./syntax.js";

/** How one language's tree names its tokens. */
export interface Language {
  parser: LRParser;
  /** Nodes holding a quoted string: rewritten from the value, so that both parsers read one literal. */
  strings: ReadonlySet<string>;
  comment: string;
}

// Punctuation that the grammars match without a node of its own: the only text allowed between nodes.
const ANONYMOUS = /^[(){}[\],:]+$/;
// Characters where parsers are known to disagree, or that look like other characters: refused anywhere in a
// query, even inside a string or a comment (a value needing one can write it as an escape, such as \r).
// C0 controls but tab and newline, DEL, C1 controls (U+0085 ends a line for some lexers), Unicode spaces and
// line separators, zero-width and direction marks, the byte-order mark.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's job.
const AMBIGUOUS = /[\0-\x08\x0b-\x1f\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]/u;
// Outside strings and comments only printable ASCII: no identifier can hold a look-alike letter.
const TOKEN = /^[\x21-\x7e]+$/;

function refuse(what: string, reason: string): never {
  throw new ApiError("bad_data", `${what}: ${reason}`);
}

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

function checkCharacters(text: string, what: string): void {
  const bad = AMBIGUOUS.exec(text);
  if (bad)
    refuse(
      what,
      `character ${codePoint(bad[0])} at offset ${bad.index} is not accepted under a label policy ` +
        "(control characters, odd line ends and invisible or look-alike characters are refused; inside a string, " +
        "write an escape such as \\r)",
    );
}

interface Token {
  name: string;
  text: string;
}

interface Reading {
  /** The tree's nodes in order, each leaf with its text as printed (strings by value); comments left out. */
  tokens: Token[];
  /** The text from those tokens: punctuation between them kept, each run of whitespace one space. */
  printed: string;
}

function read(root: SyntaxNode, src: string, lang: Language, what: string): Reading {
  const tokens: Token[] = [];
  let out = "";
  // One space where the text had whitespace or a comment (a token never ends in a space: strings end in quotes).
  const space = () => {
    if (out !== "" && !out.endsWith(" ")) out += " ";
  };
  const gap = (from: number, to: number) => {
    for (const part of src.slice(from, to).split(/([ \t\n]+)/)) {
      if (part === "") continue;
      if (/^[ \t\n]+$/.test(part)) space();
      else if (ANONYMOUS.test(part)) out += part;
      else refuse(what, `"${printable(part, 40)}" is not part of the query's syntax tree`);
    }
  };
  const leaf = (node: SyntaxNode): string => {
    const text = src.slice(node.from, node.to);
    if (lang.strings.has(node.name)) {
      const value = unquote(text);
      if (value === undefined)
        refuse(what, `the string ${printable(text, 40)} is not a literal both parsers read alike`);
      return quote(value);
    }
    if (text !== "" && !TOKEN.test(text))
      refuse(what, `"${printable(text, 40)}" is not plain ASCII outside a string, and is refused under a label policy`);
    return text;
  };
  const walk = (node: SyntaxNode): void => {
    if (node.name === lang.comment) {
      space();
      return;
    }
    if (!node.firstChild) {
      const text = leaf(node);
      tokens.push({ name: node.name, text });
      out += text;
      return;
    }
    tokens.push({ name: node.name, text: "" });
    let pos = node.from;
    for (const c of children(node)) {
      gap(pos, c.from);
      walk(c);
      pos = c.to;
    }
    gap(pos, node.to);
  };
  gap(0, root.from);
  walk(root);
  gap(root.to, src.length);
  return { tokens, printed: out.trimEnd() };
}

const same = (a: Token[], b: Token[]) =>
  a.length === b.length && a.every((t, i) => t.name === b[i]!.name && t.text === b[i]!.text);

/** A query as printed, and its syntax tree: the rewrite works on both, with no third parse. */
export interface Printed {
  text: string;
  tree: Tree;
}

/**
 * The query as this project forwards it under a label policy, printed from `tree`, the strict parse of `text`. 400
 * when the text holds what the tree does not represent exactly, or characters parsers could read differently.
 */
export function printTree(lang: Language, tree: Tree, text: string, what: string): Printed {
  checkCharacters(text, what);
  const first = read(tree.topNode, text, lang, what);
  const printed = parseStrictly(lang.parser, first.printed, what);
  const again = read(printed.topNode, first.printed, lang, what);
  if (!same(first.tokens, again.tokens) || again.printed !== first.printed)
    refuse(what, "the query cannot be written back exactly from its syntax tree; simplify its spacing and comments");
  return { text: first.printed, tree: printed };
}

/** printTree of a query not parsed yet. */
export const printQuery = (lang: Language, text: string, what: string): Printed =>
  printTree(lang, parseStrictly(lang.parser, text, what), text, what);
