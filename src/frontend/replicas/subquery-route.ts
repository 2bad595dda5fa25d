import { Hono } from "hono";
import type { FrontendConfig } from "../../config/schema.js";
import { ApiError, errorResponse, unexpected } from "../../http/errors.js";
import { limitBody, requireDeclaredLength } from "../../http/request-limits.js";
import { fallbackLog, type LogLine } from "../../observability/log.js";
import { limitsFor } from "../limits.js";
import { queryContext } from "../query-routes.js";
import type { Handler, QueryResponse } from "../types.js";
import { decodeCall, encodeAnswer } from "./envelope.js";
import { REPLICA_AUTH_HEADER } from "./replica-auth.js";

/** Where a replica sends a sub-query to its tenant's owner. Outside the route policy: no client reaches it. */
export const SUBQUERY_PATH = "/fairgate/internal/v1/subquery";
/** On a 503: this replica is draining (it left the membership), not broken. Callers go to the new owner. */
export const DRAINING_HEADER = "x-fairgate-draining";

export interface SubqueryRouteDeps {
  /** The config in force: its limits may be reloaded (runtime_config). */
  live: () => FrontendConfig;
  /** Checks the caller's signed token against the body; throws 401 ApiErrors. */
  verify: (token: string | null | undefined, body: string) => Promise<void>;
  /** What runs the sub-query here: the querier pool's queue and dispatch. */
  run: Handler;
  draining: () => boolean;
  maxBodyBytes: number;
  /** Where an unexpected error is logged (default: fallbackLog). */
  log?: LogLine;
}

/**
 * The owner's side of a sub-query sent by another replica: verified, then run through this replica's fair queue
 * and querier pool, whatever this replica thinks of who owns the tenant (views of the membership may differ for a
 * moment; a sub-query is never sent on again, so none loops). The answer is always an envelope (the querier's
 * response, or the error it ended in, with what it cost here); other statuses are the call's own failures.
 */
export function subqueryRoute(deps: SubqueryRouteDeps): Hono {
  const app = new Hono();
  app.post(SUBQUERY_PATH, async (c) => {
    const what = "a replica's sub-query";
    requireDeclaredLength(c.req.raw.headers, deps.maxBodyBytes, what);
    const body = await new Response(limitBody(c.req.raw.body, deps.maxBodyBytes, what).body).text();
    await deps.verify(c.req.header(REPLICA_AUTH_HEADER), body);
    if (deps.draining())
      return c.text("this replica is draining: send the sub-query to the tenant's new owner\n", 503, {
        [DRAINING_HEADER]: "1",
      });
    const { req, identity, headers, remainingMs } = decodeCall(body);
    const signal = AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(Math.max(1, remainingMs))]);
    const limits = limitsFor(deps.live(), identity.tenants);
    const ctx = queryContext(identity, headers, limits, signal, Date.now() + remainingMs);
    let outcome: QueryResponse | ApiError;
    try {
      outcome = await deps.run(req, ctx);
    } catch (e) {
      if (e instanceof ApiError) outcome = e;
      else if (signal.aborted)
        outcome = c.req.raw.signal.aborted
          ? new ApiError("canceled", "the calling replica went away")
          : new ApiError("timeout", "the query's deadline passed while its sub-query waited on the owner");
      else throw e;
    }
    return c.body(encodeAnswer(outcome, ctx.stats), 200, { "content-type": "application/json" });
  });
  app.onError((err, c) => {
    if (err instanceof ApiError) return errorResponse(err, c.req.path);
    (deps.log ?? fallbackLog)(`cluster: unexpected error in a replica's sub-query: ${unexpected(err)}`);
    return errorResponse(new ApiError("internal", "internal error running a replica's sub-query"), c.req.path);
  });
  return app;
}
