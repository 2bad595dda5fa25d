import { parser as logqlParser } from "@grafana/lezer-logql";
import { parser as promqlParser } from "@prometheus-io/lezer-promql";

// DEMO ONLY: the demo querier checks queries with the grammars the edge's label policies use, and refuses
// a malformed one as Loki and Prometheus do (400, each in its own error format), so a newcomer's first
// mistake looks like the one a real backend gives, not like made-up data.

/** Where the query stops being valid: "line:col" and what is there, or undefined when it parses. */
function firstError(query: string, loki: boolean): { line: number; col: number; near: string } | undefined {
  const cursor = (loki ? logqlParser : promqlParser).parse(query).cursor();
  do {
    if (!cursor.type.isError) continue;
    const before = query.slice(0, cursor.from);
    const near = query.slice(cursor.from, Math.max(cursor.to, cursor.from + 12)).trim();
    return { line: before.split("\n").length, col: cursor.from - before.lastIndexOf("\n"), near };
  } while (cursor.next());
  return undefined;
}

/** The backend's own answer to a query it cannot parse: Loki's plain text, Prometheus' bad_data JSON. */
export function syntaxErrorResponse(query: string, loki: boolean): Response | undefined {
  const e = firstError(query, loki);
  if (!e) return undefined;
  const what = e.near ? `unexpected ${JSON.stringify(e.near)}` : "unexpected end of input";
  if (loki)
    return new Response(`parse error at line ${e.line}, col ${e.col}: syntax error: ${what}`, {
      status: 400,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  const error = `invalid parameter "query": ${e.line}:${e.col}: parse error: ${what}`;
  return Response.json({ status: "error", errorType: "bad_data", error }, { status: 400 });
}
