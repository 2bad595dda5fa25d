import type { MiddlewareHandler } from "hono";
import { routesSchema, type RoutesConfig } from "../config/routes.js";
import { ApiError } from "../http/errors.js";
import { limitBody, rebuilt } from "../http/request-limits.js";
import { checkRequest, TAIL_NEEDS_UPGRADE } from "../http/route-policy.js";

/**
 * The edge's route policy, applied again at the frontend's door, which can be reached without the edge: the same
 * canonical path and allow-list, of which the frontend serves the read routes, and the same read body limit.
 * Scopes are the edge's to check: it signs an identity only after they passed.
 */
export function routeGuard(routes: RoutesConfig = routesSchema.parse(undefined)): MiddlewareHandler {
  const what = "read requests";
  return async (c, next) => {
    const req = c.req.raw;
    const { route, path } = checkRequest(req, routes);
    if (route.group !== "read") throw new ApiError("not_found", `no route ${path} on the query frontend`);
    // The frontend's app serves no WebSocket: a tail upgrade is the Node listener's, or the edge's.
    if (route.target === "tail") throw new ApiError("bad_data", TAIL_NEEDS_UPGRADE);
    const url = new URL(req.url);
    if (req.body) {
      const limited = limitBody(req.body, routes.read.max_body_bytes, what);
      url.pathname = path;
      c.req.raw = rebuilt(req, url, limited.body);
    }
    await next();
  };
}
