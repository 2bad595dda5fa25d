/**
 * A querier entry as the operator wrote it: a URL, or a DNS name to look up, spelled as Loki, Mimir and Thanos
 * spell it (`dns+`, `dnssrv+`, `dnssrvnoa+`). A scheme and path prefix may follow the prefix
 * (`dns+https://querier.loki.svc:3100/prefix`, as Mimir's ruler spells its Alertmanager URL); without one the
 * querier is reached over http at the root.
 */
export type QuerierAddress =
  | { kind: "static"; url: string }
  | {
      kind: "dns";
      /** a: A and AAAA records of `name`; srv: SRV records, targets looked up as A/AAAA; srvnoa: targets as named. */
      lookup: "a" | "srv" | "srvnoa";
      scheme: "http" | "https";
      name: string;
      /** `dns+` only: the port the queriers listen on (SRV records carry their own). */
      port?: number;
      /** The path prefix written after the host, without a trailing slash ("" for none). */
      path: string;
    };

const PREFIXES = { "dns+": "a", "dnssrv+": "srv", "dnssrvnoa+": "srvnoa" } as const;

/** Parses one `queriers[].url`; throws an Error whose message says what to write instead. */
export function parseQuerierAddress(text: string): QuerierAddress {
  const prefix = (Object.keys(PREFIXES) as (keyof typeof PREFIXES)[]).find((p) => text.startsWith(p));
  if (!prefix) {
    const url = parseUrl(text);
    if (!/^https?:$/.test(url.protocol)) throw new Error("must be an http(s) URL, or dns+, dnssrv+ or dnssrvnoa+");
    return { kind: "static", url: text };
  }
  const rest = text.slice(prefix.length);
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(rest);
  const url = parseUrl(withScheme ? rest : `http://${rest}`);
  if (!/^https?:$/.test(url.protocol)) throw new Error(`${prefix}: the scheme must be http or https`);
  if (url.username || url.password || url.search || url.hash)
    throw new Error(`${prefix}: no user, password, query or fragment (only scheme, name, port and path prefix)`);
  const lookup = PREFIXES[prefix];
  const name = url.hostname.replace(/^\[|\]$/g, "");
  if (!name) throw new Error(`${prefix}: a DNS name is required`);
  // An explicit default port (:80 on http) is dropped by URL; it is still a port the operator wrote.
  const wrotePort = /^(?:[a-z][a-z0-9+.-]*:\/\/)?(?:\[[^\]]*\]|[^/:]*):(\d+)/i.exec(rest)?.[1];
  let port: number | undefined;
  if (lookup === "a") {
    port = wrotePort ? Number(wrotePort) : withScheme ? (url.protocol === "https:" ? 443 : 80) : undefined;
    if (port === undefined) throw new Error(`${prefix}: a port is required (${prefix}${name}:3100)`);
  } else if (wrotePort) throw new Error(`${prefix}: no port: the SRV records give each querier's port`);
  return {
    kind: "dns",
    lookup,
    scheme: url.protocol === "https:" ? "https" : "http",
    name,
    ...(port !== undefined ? { port } : {}),
    path: url.pathname.replace(/\/+$/, ""),
  };
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new Error(`cannot parse ${JSON.stringify(text)} as a URL`);
  }
}

/** The URL of one querier found behind a dns entry: `host` is an address (A/AAAA) or a name (dnssrvnoa+). */
export function querierUrl(a: Extract<QuerierAddress, { kind: "dns" }>, host: string, port: number): string {
  const h = host.includes(":") ? `[${host}]` : host.replace(/\.$/, "");
  return `${a.scheme}://${h}:${port}${a.path}`;
}

/** What changed between two sets of querier URLs. */
export function diffQueriers(
  before: Iterable<string>,
  after: Iterable<string>,
): { added: string[]; removed: string[] } {
  const old = new Set(before);
  const next = new Set(after);
  return { added: [...next].filter((u) => !old.has(u)), removed: [...old].filter((u) => !next.has(u)) };
}
