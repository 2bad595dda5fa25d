import type { Access } from "./tenant.js";

export type RouteKind = Access | "tail";

// Write routes go to the distributor; they are matched exactly so no variant sneaks past as a read.
const WRITE_ROUTES = new Set(["/loki/api/v1/push", "/otlp/v1/logs", "/api/v1/push", "/otlp/v1/metrics"]);
const READ_PREFIXES = ["/loki/api/v1/", "/api/v1/", "/prometheus/api/v1/"];
// Clean paths only: no empty, "." or ".." segments, no trailing slash, a conservative alphabet.
const CLEAN_PATH = /^(?:\/[A-Za-z0-9_\-.:@%]+)+$/;

/** Which kind of route a request is, or why it has none (404 / 405). */
export function classifyRoute(
  method: string,
  pathname: string,
  upgrade: boolean,
): RouteKind | { status: 404 | 405; allow?: string } {
  if (!CLEAN_PATH.test(pathname) || pathname.split("/").some((s) => s === "." || s === "..")) return { status: 404 };
  if (WRITE_ROUTES.has(pathname)) return method === "POST" ? "write" : { status: 405, allow: "POST" };
  if (pathname === "/loki/api/v1/tail")
    return method === "GET" && upgrade ? "tail" : { status: 405, allow: "GET (WebSocket upgrade)" };
  // Asynchronous query tickets: poll (GET) and cancel (DELETE), owned by whoever submitted them.
  if (pathname.startsWith("/fairgate/api/v1/async/"))
    return method === "GET" || method === "DELETE" ? "read" : { status: 405, allow: "GET, DELETE" };
  if (!READ_PREFIXES.some((p) => pathname.startsWith(p))) return { status: 404 };
  return method === "GET" || method === "POST" ? "read" : { status: 405, allow: "GET, POST" };
}
