import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { printLogQL, restrictLogQL } from "../../../src/policy/logql.js";
import type { LabelPolicy } from "../../../src/policy/policy.js";
import { printPromQL, restrictPromQL, restrictPromSelectors } from "../../../src/policy/promql.js";
import { isForm, mediaType } from "../../../src/http/media-type.js";
import { thrownApiError } from "../../support/api-error.js";
import { logQueries, promQueries } from "../../support/query-generator.js";

const teamA: LabelPolicy[] = [[{ name: "namespace", op: "=", value: "team-a" }]];

describe("a query under a label policy is forwarded as printed from its syntax tree", () => {
  it("drops comments, makes each run of whitespace one space, writes strings again from their value", () => {
    expect(printPromQL("sum  by (job)\n\t(rate(x{a=`b\\d`, c='d'}[5m])) # why\n")).toBe(
      'sum by (job) (rate(x{a="b\\\\d", c="d"}[5m]))',
    );
    expect(printPromQL('up # a comment\n + on() # another\n foo{a="x\\x41"}')).toBe('up + on() foo{a="xA"}');
    expect(printLogQL('{app="x"} # c\n |= `a"b` | json | line_format "{{.a}}"')).toBe(
      '{app="x"} |= "a\\"b" | json | line_format "{{.a}}"',
    );
  });

  it("keeps what the client wrote without whitespace, and Unicode inside strings", () => {
    expect(printPromQL("rate(x[5m:1m])>bool 1")).toBe("rate(x[5m:1m])>bool 1");
    expect(printPromQL('up{app="café ☕"}')).toBe('up{app="café ☕"}');
  });

  it("is what the rewrite adds the policy to: the comment that hid a selector is gone", () => {
    expect(restrictPromQL("sum(x) # hidden\n or y", teamA)).toBe('sum(x{namespace="team-a"}) or y{namespace="team-a"}');
    expect(restrictLogQL('{app="x"} # c\n |= "y"', teamA)).toBe('{app="x", namespace="team-a"} |= "y"');
    expect(restrictPromSelectors(["up # c\n"], teamA)).toEqual(['up{namespace="team-a"}']);
  });

  it("refuses characters parsers may read differently, anywhere in the query (400, naming the character)", () => {
    const corners = ["\r", "\v", "\f", "\u0085", "\u2028", "\u2029", "\u00a0", "\u200b", "\ufeff", "\u0000", "\u202e"];
    for (const c of corners)
      for (const q of [`up # c${c} or secret`, `up{a="${c}"}`, `up${c}`]) {
        const e = thrownApiError(() => restrictPromQL(q, teamA));
        // Where the grammar cannot parse the text at all, the parse error is the answer (also a 400).
        const why = q === `up${c}` ? /U\+[0-9A-F]{4}|parse error/ : /U\+[0-9A-F]{4}/;
        expect([e.status, e.message], JSON.stringify(q)).toEqual([400, expect.stringMatching(why)]);
      }
    const e = thrownApiError(() => restrictLogQL('{app="x"} # c\r |= "y"', teamA));
    expect([e.status, e.message]).toEqual([400, expect.stringContaining("U+000D")]);
  });

  it("refuses look-alike letters outside strings, and strings both parsers would not read alike", () => {
    // A Cyrillic "а" in a label name: the grammar reads it as an error, or as a name the backend does not have.
    expect(thrownApiError(() => restrictPromQL('up{n\u0430mespace="x"}', teamA)).status).toBe(400);
    expect(thrownApiError(() => restrictPromQL('up{a="\\xff"}', teamA)).status).toBe(400);
  });

  it("leaves an unrestricted user's query as written", () => {
    expect(restrictPromQL("up # c\r", [[]])).toBe("up # c\r");
  });

  it("prints generated queries to a fixed point: printing the printed text gives it back", () => {
    for (const [queries, print] of [
      [promQueries(300, 7), printPromQL],
      [logQueries(300, 7), printLogQL],
    ] as const) {
      let printed = 0;
      for (const q of queries) {
        let p: string;
        try {
          p = print(q);
        } catch (e) {
          expect(thrownApiError(() => print(q)).status, String(e)).toBe(400);
          continue;
        }
        printed++;
        expect(print(p)).toBe(p);
        expect(p).not.toMatch(/[\n\t]/);
      }
      expect(printed).toBeGreaterThan(queries.length / 2);
    }
  });

  it("never lets a comment or a control character through, whatever is inserted between tokens", () => {
    const junk = fc.stringMatching(/^[ -~\t\n\r\v\f\u0085\u2028\u00a0#]{0,12}$/);
    fc.assert(
      fc.property(junk, junk, (a, b) => {
        let out: string;
        try {
          out = restrictPromQL(`sum(up)${a}or${b}secret`, teamA);
        } catch {
          return;
        }
        expect(out).not.toMatch(/[#\r\v\f\u0085\u2028\u00a0]/);
      }),
      { numRuns: 2000, seed: 24 },
    );
  });
});

describe("form bodies are recognised as Go's ParseForm recognises them", () => {
  it("media types are case-insensitive and take parameters", () => {
    for (const t of [
      "application/x-www-form-urlencoded",
      "APPLICATION/X-WWW-FORM-URLENCODED",
      "application/x-www-form-urlencoded; charset=utf-8",
      " Application/X-Www-Form-Urlencoded ;charset=ISO-8859-1",
    ])
      expect(isForm(t), t).toBe(true);
  });

  it("anything else is not a form: no selector is read from such a body", () => {
    for (const t of [
      "text/plain; x=application/x-www-form-urlencoded",
      "application/x-www-form-urlencoded garbage",
      "application/x-www-form-urlencoded, text/plain",
      "multipart/form-data; boundary=x",
      "",
      null,
    ])
      expect(isForm(t), String(t)).toBe(false);
    expect(mediaType("Text/Plain")).toBe("text/plain");
  });
});
