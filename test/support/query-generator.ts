// Generated PromQL and LogQL for differential tests against the real parsers: queries built as tokens and
// joined by separators drawn from the corners where parsers are known to disagree (comments ended by odd line
// ends, control characters, Unicode spaces and look-alikes), with string literals in every quoting style.
import fc from "fast-check";

// Whitespace and comments between tokens: mostly the plain ones, now and then a corner.
const PLAIN = [" ", " ", " ", "", "\n", "\t", "  \n\t ", " # a comment\n", "# c\n", " #\n"];
const CORNERS = [
  " # ends at CR?\r",
  " # ends at CRLF\r\n",
  " # ends at NEL?\u0085",
  " # ends at LS?\u2028",
  " # ends at PS?\u2029",
  "\r",
  "\v",
  "\f",
  "\u00a0",
  "\u200b",
  "\ufeff",
  "\u0000",
];
const separatorArb = fc.oneof(
  { arbitrary: fc.constantFrom(...PLAIN), weight: 150 },
  { arbitrary: fc.constantFrom(...CORNERS), weight: 1 },
);

// Characters in label values: ordinary, quoting, escapes, non-ASCII, and the corners.
const VALUE_CHARS = ["a", "b", "-", ".", "*", " ", '"', "'", "`", "\\", "é", "\u0430", "\n", "|", "}", "#", "{"];
const VALUE_CORNERS = ["\r", "\u2028", "\u0085", "\u0000"];
const valueCharArb = fc.oneof(
  { arbitrary: fc.constantFrom(...VALUE_CHARS), weight: 40 },
  { arbitrary: fc.constantFrom(...VALUE_CORNERS), weight: 1 },
);

/** A Go string literal of `value`, in one of the three quoting styles (backquotes only when it can). */
const literal = (value: string, style: number): string => {
  if (style === 2 && !value.includes("`") && !value.includes("\r")) return `\`${value}\``;
  const q = style === 1 ? "'" : '"';
  let out = q;
  for (const c of value) {
    if (c === q || c === "\\") out += `\\${c}`;
    else if (c === "\n") out += "\\n";
    else if (c === "\r")
      out += style === 0 ? "\\r" : c; // a raw CR inside '...': a corner
    else out += c;
  }
  return out + q;
};

// PromQL reads three quoting styles; LogQL has no single quotes.
let styles = [0, 1, 2];
const valueArb = fc
  .array(valueCharArb, { maxLength: 6 })
  .chain((cs) => fc.constantFrom(...styles).map((style) => literal(cs.join(""), style)));

const LABELS = ["job", "instance", "namespace", "app", "code", "__name__"];
// A label name with a Cyrillic letter that looks like a Latin one.
const labelArb = fc.oneof(
  { arbitrary: fc.constantFrom(...LABELS), weight: 30 },
  { arbitrary: fc.constant("n\u0430mespace"), weight: 1 },
);
const opArb = fc.constantFrom("=", "!=", "=~", "!~");
const matcherArb = fc.tuple(labelArb, opArb, valueArb).map(([l, o, v]) => [l, o, v]);
const matchersArb = (min: number) =>
  fc.array(matcherArb, { minLength: min, maxLength: 3 }).map((ms) => {
    const out: string[] = ["{"];
    ms.forEach((m, i) => {
      if (i > 0) out.push(",");
      out.push(...m);
    });
    return [...out, "}"];
  });

const METRICS = ["up", "http_requests_total", "secret_tokens_total", "node_cpu_seconds_total"];
const durationArb = fc.constantFrom("5m", "1h", "30s", "1m");

/** Token lists of PromQL expressions. */
const promExpr: fc.Arbitrary<string[]> = fc.letrec<{ expr: string[]; selector: string[] }>((tie) => ({
  selector: fc.oneof(
    fc.constantFrom(...METRICS).map((m) => [m]),
    fc.tuple(fc.constantFrom(...METRICS), matchersArb(0)).map(([m, ms]) => [m, ...ms]),
    matchersArb(1),
  ),
  expr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tie("selector"),
    fc
      .tuple(fc.constantFrom("rate", "increase", "max_over_time", "count_over_time"), tie("selector"), durationArb)
      .map(([f, s, d]) => [f, "(", ...s, "[", d, "]", ")"]),
    fc
      .tuple(fc.constantFrom("sum", "count", "max", "min", "avg"), fc.boolean(), tie("expr"))
      .map(([a, by, e]) => (by ? [a, "by", "(", "job", ")", "(", ...e, ")"] : [a, "(", ...e, ")"])),
    fc
      .tuple(tie("expr"), fc.constantFrom("+", "/", "or", "and", "unless", "> bool"), tie("expr"))
      .map(([a, op, b]) => [...a, ...op.split(" "), ...b]),
    fc.tuple(tie("selector"), durationArb).map(([s, d]) => [...s, "offset", d]),
    fc
      .tuple(tie("expr"), durationArb)
      .map(([e, d]) => ["max_over_time", "(", "(", ...e, ")", "[", d, ":", "1m", "]", ")"]),
    fc.tuple(fc.integer({ min: 1, max: 5 }), tie("expr")).map(([k, e]) => ["topk", "(", String(k), ",", ...e, ")"]),
    fc.constant<string[]>(["vector", "(", "1", ")"]),
    tie("expr").map((e) => ["(", ...e, ")"]),
    tie("expr").map((e) => ["-", ...e]),
  ),
})).expr;

/** Token lists of LogQL queries, log and metric. Loki reads a range as one token: no space inside "[5m]". */
const logStage = fc.oneof(
  fc.tuple(fc.constantFrom("|=", "!=", "|~", "!~"), valueArb).map(([f, v]) => [f, v]),
  fc.constantFrom(["|", "json"], ["|", "logfmt"], ["|", "drop", "app"], ["|", "keep", "app", ",", "job"]),
  fc.tuple(labelArb, opArb, valueArb).map(([l, o, v]) => ["|", l, o, v]),
  valueArb.map((v) => ["|", "line_format", v]),
  fc.tuple(valueArb).map(([v]) => ["|", "label_format", "x", "=", v]),
);
// Loki needs a matcher that does not match the empty value: one such leads every stream selector.
const logExpr = fc
  .tuple(matchersArb(0), fc.array(logStage, { maxLength: 3 }))
  .map(([sel, stages]) => [
    "{",
    "app",
    "=",
    '"shop"',
    ...(sel.length > 2 ? [",", ...sel.slice(1)] : ["}"]),
    ...stages.flat(),
  ]);
const logQuery: fc.Arbitrary<string[]> = fc.oneof(
  logExpr,
  fc
    .tuple(fc.constantFrom("rate", "count_over_time", "bytes_over_time"), logExpr, durationArb)
    .map(([f, e, d]) => [f, "(", ...e, `[${d}]`, ")"]),
  fc
    .tuple(fc.constantFrom("sum", "count", "max"), logExpr, durationArb)
    .map(([a, e, d]) => [a, "by", "(", "app", ")", "(", "count_over_time", "(", ...e, `[${d}]`, ")", ")"]),
);

const join = (tokens: string[]) =>
  fc.array(separatorArb, { minLength: tokens.length + 1, maxLength: tokens.length + 1 }).map((seps) => {
    let out = seps[0]!.trimStart();
    tokens.forEach((t, i) => {
      // Two words with nothing between them would be one word: keep at least a space there.
      const sep = seps[i + 1]!;
      const next = tokens[i + 1];
      out += t + (sep === "" && next && /\w$/.test(t) && /^\w/.test(next) ? " " : sep);
    });
    return out;
  });

/** `count` PromQL queries, the same ones for the same seed. */
export function promQueries(count: number, seed: number): string[] {
  styles = [0, 1, 2];
  return fc.sample(promExpr.chain(join), { numRuns: count, seed });
}

/** `count` LogQL queries, the same ones for the same seed. */
export function logQueries(count: number, seed: number): string[] {
  styles = [0, 2];
  return fc.sample(logQuery.chain(join), { numRuns: count, seed });
}
