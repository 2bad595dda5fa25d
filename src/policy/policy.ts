// Label policies: what part of a shared tenant a user may read. A policy is a list of matchers that
// must all hold (AND); a user's policies for a tenant are alternatives (OR). No policy at all means
// nothing is visible; a tenant the rules leave unrestricted has no policy list.
import { ApiError } from "../http/errors.js";
import { escapeRegex, quote } from "./literal.js";

export type MatchOp = "=" | "!=" | "=~" | "!~";

export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
}

/** Matchers that must all hold. */
export type LabelPolicy = readonly LabelMatcher[];

// Label names as both PromQL and LogQL accept them unquoted: policies name labels plainly.
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isLabelName(s: string): boolean {
  return LABEL_NAME.test(s);
}

/** The matcher as PromQL and LogQL both write it; the value always goes through quote(). */
export function matcherText(m: LabelMatcher): string {
  return `${m.name}${m.op}${quote(m.value)}`;
}

export function policyText(p: LabelPolicy): string {
  return `{${p.map(matcherText).join(", ")}}`;
}

const positive = (m: LabelMatcher) => m.op === "=" || m.op === "=~";
const asRegex = (m: LabelMatcher) => (m.op === "=~" ? `(?:${m.value})` : escapeRegex(m.value));
const key = (m: LabelMatcher) => `${m.name}\u0000${m.op}\u0000${m.value}`;

/**
 * Fewer policies with the same meaning: duplicates go, and policies that differ only in one
 * positive matcher on the same label become one policy with a regex alternation
 * (`{ns="a"}` or `{ns=~"b-.*"}` is `{ns=~"a|(?:b-.*)"}`). One policy can be written into a single
 * selector, which LogQL needs (a stream selector has no OR) and which keeps PromQL rewrites small.
 */
export function combinePolicies(policies: readonly LabelPolicy[]): LabelPolicy[] {
  const unique = new Map<string, LabelPolicy>();
  for (const p of policies) {
    const sorted = [...new Map(p.map((m) => [key(m), m])).values()].sort((a, b) => (key(a) < key(b) ? -1 : 1));
    unique.set(sorted.map(key).join("\u0001"), sorted);
  }
  const list = [...unique.values()];
  // Any policy with no matcher lets everything through: the alternatives add nothing.
  if (list.some((p) => p.length === 0)) return [[]];
  if (list.length < 2) return list;

  // Group by "everything but one positive matcher on label L"; each group merges into one policy.
  const groups = new Map<string, { rest: LabelMatcher[]; name: string; alts: LabelMatcher[] }>();
  const left: LabelPolicy[] = [];
  for (const p of list) {
    const names = new Set(p.filter(positive).map((m) => m.name));
    const name = [...names].find((n) => p.filter((m) => m.name === n).length === 1);
    if (name === undefined) {
      left.push(p);
      continue;
    }
    const rest = p.filter((m) => m.name !== name);
    const id = `${name}\u0002${rest.map(key).join("\u0001")}`;
    const g = groups.get(id) ?? { rest, name, alts: [] };
    g.alts.push(p.find((m) => m.name === name)!);
    groups.set(id, g);
  }
  const merged = [...groups.values()].map(({ rest, name, alts }): LabelPolicy => {
    if (alts.length === 1) return [...rest, alts[0]!];
    return [...rest, { name, op: "=~", value: alts.map(asRegex).join("|") }];
  });
  return [...merged, ...left];
}

/**
 * The policies a rewrite applies, combined; undefined when one of them lets everything through.
 * No policy at all is a 403: the rules gave this user a tenant but nothing in it.
 */
export function effectivePolicies(policies: readonly LabelPolicy[]): LabelPolicy[] | undefined {
  const combined = combinePolicies(policies);
  if (combined.length === 0) throw new ApiError("forbidden", "your label policies allow nothing in this tenant");
  return combined.length === 1 && combined[0]!.length === 0 ? undefined : combined;
}

/** Why a query cannot be rewritten for these policies: answered 403 in the API's format. */
export function inexpressible(what: string): ApiError {
  return new ApiError(
    "forbidden",
    `${what} cannot be limited to your label policies: they are alternatives that one selector cannot ` +
      "express (policies combine when they differ in one = or =~ matcher on the same label); " +
      "ask an administrator to grant them in that form",
  );
}
