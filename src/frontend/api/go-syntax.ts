// Numbers and quoted strings as Go writes and reads them. Prometheus reads times and steps with Go's
// strconv.ParseFloat and quotes the input it refuses with %q: to answer as it does, so do we.

const isDigit = (c: string, hex: boolean) => (c >= "0" && c <= "9") || (hex && /^[a-fA-F]$/.test(c));

/**
 * The number strconv.ParseFloat(s, 64) gives, or undefined where it fails. Go accepts what Number()
 * refuses ("inf", "1_000", "0x1p4") and refuses what Number() accepts ("0x10", " 1", ""). Values
 * out of float64 range fail, as in Go (ErrRange); values too small to represent are 0.
 */
export function parseGoFloat(s: string): number | undefined {
  const special = /^([+-]?)(inf|infinity)$/i.exec(s);
  if (special) return special[1] === "-" ? -Infinity : Infinity;
  if (/^nan$/i.test(s)) return Number.NaN; // no sign: Go reads "+nan" as a syntax error

  let i = 0;
  const negative = s[0] === "-";
  if (s[0] === "+" || s[0] === "-") i++;
  const hex = /^0[xX]/.test(s.slice(i));
  if (hex) i += 2;
  const bodyStart = i;
  let digits = "";
  let fractionDigits = 0;
  let dot = false;
  for (; i < s.length; i++) {
    const c = s[i]!;
    if (c === "_") continue;
    if (c === "." && !dot) dot = true;
    else if (isDigit(c, hex)) {
      digits += c;
      if (dot) fractionDigits++;
    } else break;
  }
  if (digits === "") return undefined;
  let exponent = 0;
  if (i < s.length && s[i]!.toLowerCase() === (hex ? "p" : "e")) {
    const m = /^([+-]?)(\d[\d_]*)$/.exec(s.slice(i + 1));
    if (!m) return undefined;
    exponent = Number(m[2]!.replaceAll("_", "")) * (m[1] === "-" ? -1 : 1);
    i = s.length;
  } else if (hex) return undefined; // a hexadecimal mantissa needs its p exponent
  if (i !== s.length || !underscoresOk(s.slice(bodyStart), hex)) return undefined;

  let value: number;
  if (hex) {
    const mantissa = Number(BigInt(`0x${digits}`)); // rounded once, to nearest even
    value = mantissa === 0 ? 0 : mantissa * 2 ** (exponent - 4 * fractionDigits);
  } else value = Number(s.slice(bodyStart).replaceAll("_", "")); // correctly rounded, as Go's
  if (!Number.isFinite(value)) return undefined;
  return negative ? -value : value;
}

/**
 * Go's rule for `_` in number literals: only between two digits, or between a base prefix and a
 * digit. `body` is the literal without its sign and base prefix.
 */
function underscoresOk(body: string, hex: boolean): boolean {
  let last = hex ? "digit" : "start"; // the 0x prefix counts as a digit
  for (const c of body) {
    if (isDigit(c, hex)) last = "digit";
    else if (c === "_") {
      if (last !== "digit") return false;
      last = "_";
    } else {
      if (last === "_") return false;
      last = "other";
    }
  }
  return last !== "_";
}

/** Go's %q (strconv.Quote): printable characters as they are, the others escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const c of s) {
    const code = c.codePointAt(0)!;
    if (c === '"' || c === "\\") out += `\\${c}`;
    else if (code === 0x20 || (code > 0x20 && code !== 0x7f && /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(c))) out += c;
    else if (ESCAPES[c]) out += ESCAPES[c];
    else if (code < 0x80) out += `\\x${hex2(code)}`;
    else if (code < 0x10000) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += `\\U${code.toString(16).padStart(8, "0")}`;
  }
  return `${out}"`;
}

const hex2 = (n: number) => n.toString(16).padStart(2, "0");
const ESCAPES: Record<string, string> = {
  "\x07": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
};
