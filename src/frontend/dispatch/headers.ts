import { cleanRequestHeaders } from "../../http/forward.js";
import type { Identity } from "../../identity/signed-identity.js";

/** Headers the queriers get: the identity's tenant and actor path, nothing a client wrote. */
export function querierHeaders(req: Request, identity: Identity): Headers {
  const h = cleanRequestHeaders(req.headers, {
    proto: new URL(req.url).protocol.replace(":", ""),
    keepAuthorization: false,
  });
  h.set("x-scope-orgid", identity.tenants.join("|"));
  h.set("x-loki-actor-path", identity.actorPath);
  return h;
}
