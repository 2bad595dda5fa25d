import type { MiddlewareHandler } from "hono";
import { ApiError } from "../http/errors.js";
import { IDENTITY_HEADER, type Identity } from "../identity/signed-identity.js";

/** The frontend's Hono environment: every route after requireIdentity knows who is asking. */
export type FrontendEnv = { Variables: { identity: Identity } };

export type IdentityVerifier = (jws: string) => Promise<Identity>;

/** Set only by code in this process (the co-deployed edge), never from the wire. */
export interface InProcessEnv {
  identity?: Identity;
}

const REFUSED =
  "this frontend accepts queries only through the fairgate edge: the signed identity header is missing or invalid";

/**
 * Who is asking. Tenant and actor path come only from the edge: in-process, or from its signed
 * header. A hand-written X-Scope-OrgID is never believed.
 */
export async function identityOf(req: Request, env: unknown, verify?: IdentityVerifier): Promise<Identity> {
  const inProcess = (env as InProcessEnv | undefined)?.identity;
  if (inProcess) return inProcess;
  const jws = req.headers.get(IDENTITY_HEADER);
  if (!jws || !verify) throw new ApiError("unauthorized", REFUSED);
  try {
    return await verify(jws);
  } catch {
    // Why it failed is kept from the caller (it would guide a forger); the request's own log line records the 401.
    throw new ApiError("unauthorized", REFUSED);
  }
}

export function requireIdentity(verify?: IdentityVerifier): MiddlewareHandler<FrontendEnv> {
  return async (c, next) => {
    c.set("identity", await identityOf(c.req.raw, c.env, verify));
    await next();
  };
}
