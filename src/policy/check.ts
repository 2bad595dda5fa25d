// Every rewrite is checked by parsing its result again: each selector must carry every matcher of
// one policy, written exactly as the rewrite writes it. A failure is a defect here, never a client
// mistake: the request is answered 500 and nothing is sent upstream.
import type { LRParser } from "@lezer/lr";
import { ApiError } from "../http/errors.js";
import { type LabelPolicy, matcherText } from "./policy.js";
import type { SyntaxNode } from "./syntax.js";

export function checkRewrite(
  parser: LRParser,
  text: string,
  selector: string,
  matchersOf: (sel: SyntaxNode) => SyntaxNode[],
  policies: LabelPolicy[],
): void {
  const wanted = policies.map((p) => p.map(matcherText));
  let ok = true;
  parser.parse(text).iterate({
    enter(n) {
      if (n.type.isError) ok = false;
      if (n.name !== selector) return;
      const have = new Set(matchersOf(n.node).map((m) => text.slice(m.from, m.to)));
      if (!wanted.some((w) => w.every((m) => have.has(m)))) ok = false;
    },
  });
  if (!ok) throw new ApiError("internal", "the label policy rewrite failed its own check; nothing was sent");
}
