import type { RouteGroupName, RoutesConfig } from "../config/routes.js";
import { canonicalPath } from "./canonical-path.js";
import { ApiError, printable } from "./errors.js";
import type { HeaderReader } from "./header-map.js";
import { requireDeclaredLength, requireHeaderSize } from "./request-limits.js";

/** Where a route's requests go: the read path (frontend), the distributor, the live tail, or its group's own URL. */
export type RouteTarget = "read" | "write" | "tail" | "group";

export interface Route {
  group: RouteGroupName;
  target: RouteTarget;
  methods: readonly string[];
  /** Segments after the API prefix; "*" stands for exactly one segment. */
  pattern: readonly string[];
}

export interface RouteDecision {
  route: Route;
  /** The decoded, normalised path: the only path ever matched, or sent on. */
  path: string;
}

const READ = ["GET", "POST"] as const;
const routes = (
  prefixes: string[],
  group: RouteGroupName,
  target: RouteTarget,
  methods: readonly string[],
  paths: string[],
): Route[] =>
  prefixes.flatMap((prefix) =>
    paths.map((p) => ({ group, target, methods, pattern: `${prefix}/${p}`.slice(1).split("/") })),
  );

const LOKI = ["/loki/api/v1"];
const PROMETHEUS = ["/api/v1", "/prometheus/api/v1"];

// The allow-list. Anything not here is 404; the optional groups exist only when an operator turns them on.
const ROUTES: Route[] = [
  ...routes(LOKI, "read", "read", READ, [
    "query",
    "query_range",
    "labels",
    "label/*/values",
    "series",
    "index/stats",
    "index/volume",
    "index/volume_range",
    "detected_fields",
    "detected_field/*/values",
    "detected_labels",
    "patterns",
    "format_query",
    "status/buildinfo",
    "drilldown-limits",
  ]),
  ...routes(LOKI, "read", "tail", ["GET"], ["tail"]),
  ...routes(PROMETHEUS, "read", "read", READ, [
    "query",
    "query_range",
    "query_exemplars",
    "labels",
    "label/*/values",
    "series",
    "metadata",
    "status/buildinfo",
    "format_query",
  ]),
  // Asynchronous query tickets: poll and cancel, owned by whoever submitted them.
  ...routes(["/fairgate/api/v1"], "read", "read", ["GET", "DELETE"], ["async/*"]),
  ...routes(["/fairgate/api/v1"], "read", "read", ["GET"], ["async/*/status"]),
  ...routes([""], "write", "write", ["POST"], ["loki/api/v1/push", "otlp/v1/logs", "api/v1/push", "otlp/v1/metrics"]),
  // Loki's log deletion (compactor) and the cache generation numbers queriers poll.
  ...routes(LOKI, "delete", "group", ["GET", "POST", "DELETE"], ["delete"]),
  ...routes(LOKI, "delete", "group", ["GET"], ["cache/generation_numbers"]),
  // Rulers: Loki's, Mimir's (/prometheus/config/v1/rules) and the Prometheus-style rule and alert listings.
  ...routes(LOKI, "rules", "group", ["GET", "POST", "DELETE"], ["rules", "rules/*", "rules/*/*"]),
  ...routes(["/prometheus/config/v1"], "rules", "group", ["GET", "POST", "DELETE"], ["rules", "rules/*", "rules/*/*"]),
  ...routes(PROMETHEUS, "rules", "group", ["GET"], ["rules", "alerts"]),
  // Prometheus's TSDB administration and the server's own configuration.
  ...routes(
    PROMETHEUS,
    "admin",
    "group",
    ["POST", "PUT"],
    ["admin/tsdb/delete_series", "admin/tsdb/clean_tombstones", "admin/tsdb/snapshot"],
  ),
  ...routes(PROMETHEUS, "admin", "group", ["GET"], ["status/config", "status/flags", "status/runtimeinfo"]),
];

const matches = (pattern: readonly string[], segments: string[]) =>
  pattern.length === segments.length && pattern.every((p, i) => p === "*" || p === segments[i]);

/**
 * Which route a request takes, decided on its canonical path. Throws 400 for an ambiguous path, 404 for a path
 * that is no route (or whose group is off), 405 for a method the route does not take.
 */
export function decideRoute(method: string, rawPath: string, config: RoutesConfig): RouteDecision {
  // A decision depends only on these three: a busy gateway sees the same few paths again and again.
  let decided = decisions.get(config);
  if (!decided) decisions.set(config, (decided = new Map()));
  const key = `${method} ${rawPath}`;
  const known = decided.get(key);
  if (known) return known;
  const decision = decide(method, rawPath, config);
  // Bounded: paths with a name in them (label/*/values) are many. Refusals are not kept; they throw anyway.
  if (decided.size >= MAX_DECISIONS) decided.clear();
  decided.set(key, decision);
  return decision;
}

const MAX_DECISIONS = 4096;
const decisions = new WeakMap<RoutesConfig, Map<string, RouteDecision>>();

function decide(method: string, rawPath: string, config: RoutesConfig): RouteDecision {
  const path = canonicalPath(rawPath);
  const segments = path.slice(1).split("/");
  const found = ROUTES.filter((r) => matches(r.pattern, segments) && isOn(r.group, config));
  if (found.length === 0) throw new ApiError("not_found", `no route ${path}`);
  const route = found.find((r) => r.methods.includes(method));
  if (!route) {
    const allow = [...new Set(found.flatMap((r) => r.methods))].join(", ");
    throw new ApiError("method_not_allowed", `${method} is not allowed on ${path}; use ${allow}`, { allow });
  }
  return { route, path };
}

/**
 * What both doors (the edge, and the frontend reached directly) check before anything else: the headers' size,
 * the route on the canonical path, a live tail only as a WebSocket upgrade, and the body's declared length.
 */
export function checkRequest(
  req: { method: string; url: string; headers: HeaderReader },
  config: RoutesConfig,
  url = new URL(req.url),
): RouteDecision {
  requireHeaderSize(req.headers, config.max_header_bytes);
  const decision = decideRoute(req.method, url.pathname, config);
  const upgrade = (req.headers.get("upgrade") ?? "").toLowerCase() === "websocket";
  if (decision.route.target === "tail" && !upgrade) throw new ApiError("bad_data", TAIL_NEEDS_UPGRADE);
  const group = decision.route.group;
  requireDeclaredLength(req.headers, config[group].max_body_bytes, `${group} requests`);
  return decision;
}

export const TAIL_NEEDS_UPGRADE = "live tail needs a WebSocket upgrade";

const isOn = (group: RouteGroupName, config: RoutesConfig) =>
  group === "read" || group === "write" || config[group].enabled;

/**
 * Refuses a token without the scopes its route group asks for: 403 with RFC 6750's insufficient_scope challenge,
 * which names the scopes to ask the identity provider for.
 */
export function requireScopes(group: RouteGroupName, scopes: readonly string[], config: RoutesConfig): void {
  const { scopes: needed, scope_match: match } = config[group];
  if (needed.length === 0) return;
  const have = new Set(scopes);
  const ok = match === "any" ? needed.some((s) => have.has(s)) : needed.every((s) => have.has(s));
  if (ok) return;
  const wanted = needed.join(" ");
  const what = match === "any" && needed.length > 1 ? `one of the scopes "${wanted}"` : `the scope "${wanted}"`;
  const message = `your token lacks ${what}, which ${group} requests need; ask your identity provider for it`;
  throw new ApiError("forbidden", message, {
    "www-authenticate":
      `Bearer realm="fairgate", error="insufficient_scope", ` +
      `error_description="${printable(message, 300)}", scope="${wanted}"`,
  });
}
