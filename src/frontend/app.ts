import { Hono } from "hono";
import type { FrontendConfig } from "../config/schema.js";
import { ApiError, errorResponse } from "../http/errors.js";
import { cleanRequestHeaders, forward } from "../http/forward.js";
import type { Identity } from "../identity/identity.js";
import { requireIdentity, type IdentityVerifier } from "./identity.js";

export interface FrontendDeps {
  verifyIdentity?: IdentityVerifier;
  bodiesDecoded?: boolean;
}

/** Headers the queriers get: the identity's tenant and actor path, nothing a client wrote. */
export function querierHeaders(req: Request, identity: Identity): Headers {
  const h = cleanRequestHeaders(req.headers, { proto: new URL(req.url).protocol.replace(":", ""), keepAuthorization: false });
  h.set("x-scope-orgid", identity.tenants.join("|"));
  h.set("x-loki-actor-path", identity.actorPath);
  return h;
}

export function createFrontendApp(config: FrontendConfig, deps: FrontendDeps = {}): Hono<{ Variables: { identity: Identity } }> {
  const app = new Hono<{ Variables: { identity: Identity } }>();
  let next = 0;

  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/ready", (c) => c.text("ready\n"));
  app.use("*", requireIdentity(deps.verifyIdentity));

  // Until the query pipeline lands, every query passes through to the queriers in turn.
  app.all("*", (c) => {
    const querier = config.queriers[next++ % config.queriers.length]!;
    const url = new URL(c.req.url);
    const target = new URL(querier.url);
    target.pathname = target.pathname.replace(/\/$/, "") + url.pathname;
    target.search = url.search;
    return forward(c.req.raw, target, querierHeaders(c.req.raw, c.get("identity")), {
      timeoutMs: 300_000,
      bodiesDecoded: deps.bodiesDecoded ?? true,
    });
  });

  app.onError((err, c) => {
    if (err instanceof ApiError) return errorResponse(err, c.req.path);
    console.error("frontend: unexpected error", err);
    return errorResponse(new ApiError("internal", "internal error in the query frontend"), c.req.path);
  });
  return app;
}
