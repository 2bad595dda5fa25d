import fc from "fast-check";

// Paths to mangle: allowed routes of every group, and paths that are no route at all.
const BASES = [
  "/loki/api/v1/query_range",
  "/loki/api/v1/labels",
  "/loki/api/v1/label/app/values",
  "/loki/api/v1/push",
  "/loki/api/v1/delete",
  "/loki/api/v1/rules/ns/group",
  "/api/v1/query",
  "/api/v1/push",
  "/api/v1/admin/tsdb/delete_series",
  "/prometheus/api/v1/series",
  "/prometheus/api/v1/admin/tsdb/snapshot",
  "/otlp/v1/logs",
  "/fairgate/api/v1/async/abc/status",
  "/admin/config",
  "/config",
];

const hex = (c: string, upper: boolean) => {
  const h = c.charCodeAt(0).toString(16).padStart(2, "0");
  return `%${upper ? h.toUpperCase() : h}`;
};

// One character of a path, as a client might write it.
const char = (c: string) =>
  fc.oneof(
    { weight: 30, arbitrary: fc.constant(c) },
    { weight: 3, arbitrary: fc.boolean().map((upper) => hex(c, upper)) },
    { weight: 1, arbitrary: fc.constant(c.toUpperCase() === c ? c.toLowerCase() : c.toUpperCase()) },
    { weight: 1, arbitrary: fc.constant(`%25${hex(c, true).slice(1)}`) }, // double encoding
  );

// Whole segments slipped in between two others.
const INSERTS = [".", "..", "%2e", "%2E%2e", ".%2E", "x/..", "x/%2e%2e", "", "%2f", "%5C", "%00", "%252e", "..%2f"];

/** A path from BASES, its characters encoded, re-cased or double-encoded at random, with odd segments slipped in. */
export function mangledPath(): fc.Arbitrary<string> {
  return fc
    .constantFrom(...BASES)
    .chain((base) =>
      fc.tuple(
        ...base
          .slice(1)
          .split("/")
          .map((segment) =>
            fc.tuple(
              fc.tuple(...[...segment].map(char)).map((cs) => cs.join("")),
              fc.oneof(
                { weight: 12, arbitrary: fc.constant(null) },
                { weight: 1, arbitrary: fc.constantFrom(...INSERTS) },
              ),
            ),
          ),
      ),
    )
    .map((parts) => `/${parts.map(([s, insert]) => (insert === null ? s : `${s}/${insert}`)).join("/")}`);
}

// An oracle written apart from the code under test: decode with the platform, re-encode all but RFC 3986's pchars.
const PLAIN = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;
export function referenceCanonical(path: string): string {
  const segment = (s: string) =>
    [...decodeURIComponent(s)].map((ch) => (PLAIN.test(ch) ? ch : encodeURIComponent(ch))).join("");
  return `/${path.slice(1).split("/").map(segment).join("/")}`;
}
