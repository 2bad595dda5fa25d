import { Hono } from "hono";
import type { RoutesConfig } from "../config/routes.js";
import type { EdgeConfig, SignedIdentityConfig } from "../config/schema.js";
import { ApiError, errorResponse } from "../http/errors.js";
import type { Identity } from "../identity/signed-identity.js";
import { Edge } from "./edge.js";
import type { Admitted } from "./request.js";
import { forward } from "../http/forward.js";
import { limitBody, rebuilt } from "../http/request-limits.js";
import { TAIL_NEEDS_UPGRADE } from "../http/route-policy.js";
import { refusal } from "./refusal.js";

/** What differs between Workers and Node. */
export interface EdgeRuntime {
  clientIp(req: Request, env: unknown): string | undefined;
  /** Whether the upstream client hands back decoded bodies (then their Content-Encoding no longer applies). */
  bodiesDecoded: boolean;
  /** Reads handled in this process (edge and frontend co-deployed): identity passes without a header. */
  inProcessRead?: (req: Request, identity: Identity) => Promise<Response>;
  /** Live tail over WebSocket, where the runtime can pass an upgrade through fetch (Workers). */
  tail?: (admitted: Admitted) => Promise<Response>;
  fetch?: typeof fetch;
  /** Told who a request was admitted as, or why it was refused (for logs and metrics). */
  observe?: (fields: Record<string, unknown>) => void;
  /** SHA-256 in hex, where the runtime has a faster one than the pure-JS default (Node). */
  tokenDigest?: (text: string) => string;
  /** Why what serves reads in this process (the frontend) cannot serve them now; undefined when it can. */
  notReady?: () => string | undefined;
  /** The config in force, where a runtime file may replace its per-tenant sections (Node: runtime_config). */
  live?: () => EdgeConfig;
  /** status.actor_directory is on: identities say who each actor path stands for (Node's admin listener shows it). */
  actorDirectory?: { claim?: string };
}

export interface EdgeApp {
  app: Hono;
  edge: Edge;
}

export function createEdgeApp(
  config: EdgeConfig,
  runtime: EdgeRuntime,
  signedIdentity?: SignedIdentityConfig,
  routes?: RoutesConfig,
): EdgeApp {
  const edge = new Edge(config, {
    signedIdentity,
    routes,
    tokenDigest: runtime.tokenDigest,
    live: runtime.live,
    actorDirectory: runtime.actorDirectory,
  });
  const app = new Hono();

  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/ready", async () => {
    const problems = await edge.verifier.problems();
    const reads = runtime.notReady?.();
    if (reads) problems.push(reads);
    return problems.length === 0
      ? new Response("ready\n")
      : new Response(`not ready:\n${problems.map((p) => `- ${p}`).join("\n")}\n`, {
          status: 503,
          headers: { "retry-after": "5" },
        });
  });

  app.all("*", async (c) => {
    const req = c.req.raw;
    const admitted = await edge.admit(req, runtime.clientIp(req, c.env));
    runtime.observe?.({ tenant: admitted.identity.tenants.join("|"), actor: admitted.identity.actorPath });
    if (admitted.kind === "tail") {
      if (!runtime.tail) throw new ApiError("bad_data", TAIL_NEEDS_UPGRADE);
      return runtime.tail(admitted);
    }
    // Past the route's limit the body stops: the upstream never sees more, the client gets 413.
    // A body label policies rewrote was read whole, within that limit, and is sent as rewritten.
    const limited =
      admitted.body === undefined
        ? limitBody(req.body, admitted.maxBodyBytes, `${admitted.route.group} requests`)
        : { body: new Response(admitted.body).body, signal: undefined };
    if (!admitted.target) {
      if (!runtime.inProcessRead) throw new ApiError("unavailable", "no read upstream is configured");
      const url = new URL(req.url);
      url.pathname = admitted.path;
      url.search = admitted.search;
      return runtime.inProcessRead(rebuilt(req, url, limited.body, admitted.headers.toHeaders()), admitted.identity);
    }
    return forward(req, admitted.target, admitted.headers, {
      timeoutMs: config.upstream.timeout,
      bodiesDecoded: runtime.bodiesDecoded,
      fetch: runtime.fetch,
      body: limited.body,
      signal: limited.signal,
    });
  });

  app.onError((err, c) => errorResponse(refusal(err, runtime.observe), c.req.path));
  return { app, edge };
}
