import type { HeaderMap, HeaderReader } from "../http/header-map.js";
import type { Route, RouteTarget } from "../http/route-policy.js";
import type { Identity } from "../identity/signed-identity.js";

// What the edge's admission (edge.ts) reads of a request, and what it makes of one it lets through: the
// types its shells (app.ts on Workers and Node, node/edge-server.ts) and its helpers (label-scope.ts) share.

/**
 * What admission reads of a request. A Web Request is one (Workers, upgrades); the Node server builds a lighter one
 * from node:http's request, whose body only becomes a stream when label policies read it.
 */
export interface EdgeRequest {
  method: string;
  /** Absolute; only its scheme, path and query matter. */
  url: string;
  headers: HeaderReader;
  readonly body: ReadableStream<Uint8Array> | null;
}

/** A request that passed every check: where it goes, with which headers, on whose behalf. */
export interface Admitted {
  kind: RouteTarget;
  route: Route;
  /** The canonical path: the one sent on, whatever the client wrote. */
  path: string;
  /** Body bytes this route takes (the stream is cut past them). */
  maxBodyBytes: number;
  identity: Identity;
  /** Undefined for reads when the frontend runs in this process. */
  target?: URL;
  headers: HeaderMap;
  /** The query string sent on (with its "?"): the client's, or rewritten under label policies. */
  search: string;
  /** The form body sent on instead of the client's, when label policies rewrote it. */
  body?: string;
}
