// String literals as PromQL and LogQL read them (Go's strconv.Unquote), and as this module writes them.
// A policy value is only ever written through quote(), so no claim can close a string or add a matcher.
import { ApiError } from "../http/errors.js";

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A double-quoted literal both languages read back as exactly `s`. */
export function quote(s: string): string {
  // JSON escapes quotes, backslashes and control characters in forms Go also reads; a lone surrogate
  // would come out as \udXXX, which Go refuses: such a value is not text and cannot be a label value.
  if (LONE_SURROGATE.test(s)) throw new ApiError("forbidden", "a label policy value is not valid Unicode");
  return JSON.stringify(s);
}

/** Go's regexp.QuoteMeta: the RE2 pattern matching exactly `s`. */
export function escapeRegex(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

const SIMPLE: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\" };

/** The value of a literal as Go's strconv.Unquote reads it; undefined when Go would refuse it. */
export function unquote(lit: string): string | undefined {
  const q = lit[0];
  if (lit.length < 2 || lit[lit.length - 1] !== q) return undefined;
  const body = lit.slice(1, -1);
  if (q === "`") return body.includes("`") ? undefined : body.replace(/\r/g, "");
  if (q !== '"' && q !== "'") return undefined;
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === q || c === "\n") return undefined;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) return undefined;
    if (e in SIMPLE) out += SIMPLE[e];
    else if (e === q) out += e;
    else if (e === "x" || e === "u" || e === "U") {
      const n = e === "x" ? 2 : e === "u" ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + n);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) return undefined;
      const code = Number.parseInt(hex, 16);
      if (e !== "x" && (code > 0x10ffff || (code >= 0xd800 && code < 0xe000))) return undefined;
      // \x gives a byte; label values are UTF-8, so only ASCII bytes are read back as text here.
      if (e === "x" && code > 0x7f) return undefined;
      out += String.fromCodePoint(code);
      i += n;
    } else if (/[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct) || Number.parseInt(oct, 8) > 0x7f) return undefined;
      out += String.fromCharCode(Number.parseInt(oct, 8));
      i += 2;
    } else return undefined;
  }
  return out;
}
