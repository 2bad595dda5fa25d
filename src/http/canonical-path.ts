import { ApiError } from "./errors.js";

// Upstreams (Go's net/http) decode a path once before routing, so a route must be decided on the decoded path,
// and the path sent on must be one that decodes to exactly that. Anything that could decode to two different
// paths on two different parsers is refused instead of guessed at.

// RFC 3986 pchar minus pct-encoded: what a canonical segment leaves as it is.
const PLAIN = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;
// Bytes that, once decoded, would change the path's structure or its meaning on the next decoder.
const STRUCTURAL: Record<string, string> = { "2F": "/", "5C": "\\", "2E": ".", "25": "%" };
const utf8 = new TextDecoder("utf-8", { fatal: true });

const ambiguous = (why: string) =>
  new ApiError("bad_data", `ambiguous request path: ${why}; send the plain path, e.g. /loki/api/v1/query_range`);

/**
 * The decoded, normalised form of a request path, re-encoded the one way it is sent upstream.
 * Throws 400 for anything ambiguous: encoded "/", "\", "." or "%" (double encoding), bad escapes, NUL and
 * other control characters, backslashes, empty segments (including a trailing slash) and dot segments.
 */
export function canonicalPath(path: string): string {
  if (!path.startsWith("/")) throw ambiguous("it does not start with /");
  if (path.includes("\\")) throw ambiguous("backslash");
  const segments = path.slice(1).split("/");
  return `/${segments.map(canonicalSegment).join("/")}`;
}

function canonicalSegment(raw: string): string {
  if (raw === "") throw ambiguous("empty segment");
  if (raw === "." || raw === "..") throw ambiguous("dot segment");
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c !== 0x25) {
      if (c < 0x20 || c === 0x7f) throw ambiguous("control character");
      // A URL's pathname is ASCII (the URL parser percent-encodes the rest): anything else did not come from one.
      if (c > 0x7f) throw ambiguous("a character outside ASCII that is not percent-encoded");
      bytes.push(c);
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw ambiguous(`bad percent-escape "${raw.slice(i, i + 3)}"`);
    const b = Number.parseInt(hex, 16);
    const structural = STRUCTURAL[hex.toUpperCase()];
    if (structural) throw ambiguous(`encoded "${structural}" (%${hex})`);
    if (b < 0x20 || b === 0x7f) throw ambiguous(`encoded control character (%${hex})`);
    bytes.push(b);
    i += 2;
  }
  let text: string;
  try {
    text = utf8.decode(new Uint8Array(bytes));
  } catch {
    throw ambiguous("percent-escapes that are not UTF-8");
  }
  let out = "";
  for (const ch of text) out += PLAIN.test(ch) ? ch : encodeURIComponent(ch);
  return out;
}
