import type { EdgeConfig, SignedIdentityConfig } from "../config/schema.js";
import { ApiError } from "../http/errors.js";
import { IDENTITY_HEADER, identitySigner, type Identity } from "../identity/identity.js";
import { ActorPaths } from "./actor.js";
import { bearerToken } from "./auth/bearer.js";
import { TokenVerifier, type VerifiedUser } from "./auth/verifier.js";
import { cleanRequestHeaders, upstreamUrl } from "../http/forward.js";
import { classifyRoute, type RouteKind } from "./routes.js";
import { grantFor, resolveTenants } from "./tenant.js";

/** A request that passed every check: where it goes, with which headers, on whose behalf. */
export interface Admitted {
  kind: RouteKind;
  identity: Identity;
  /** Undefined for reads when the frontend runs in this process. */
  target?: URL;
  headers: Headers;
}

export interface EdgeOptions {
  /** Sign the identity into a header for a frontend in another process. */
  signedIdentity?: SignedIdentityConfig;
}

/**
 * The edge's decisions, free of any server: authenticate, authorize the tenant, derive the actor
 * path, clean the headers. Used by the Hono app for HTTP and by the Node server for WebSocket upgrades.
 */
export class Edge {
  readonly verifier: TokenVerifier;
  readonly actors: ActorPaths;
  readonly #sign?: Promise<(id: Identity) => Promise<string>>;

  constructor(
    readonly config: EdgeConfig,
    opts: EdgeOptions = {},
  ) {
    this.verifier = new TokenVerifier(config);
    this.actors = new ActorPaths(config.actor);
    if (opts.signedIdentity) this.#sign = identitySigner(opts.signedIdentity);
  }

  /** Throws ApiError for anything that must not reach an upstream. */
  async admit(req: Request, clientIp?: string): Promise<Admitted> {
    const url = new URL(req.url);
    const upgrade = (req.headers.get("upgrade") ?? "").toLowerCase() === "websocket";
    const kind = classifyRoute(req.method, url.pathname, upgrade);
    if (typeof kind !== "string") {
      if (kind.status === 405)
        throw new ApiError("method_not_allowed", `${req.method} is not allowed on ${url.pathname}; use ${kind.allow}`, {
          allow: kind.allow ?? "",
        });
      throw new ApiError("not_found", `no route ${url.pathname}`);
    }

    const user = await this.verifier.verify(
      bearerToken(req.headers.get("authorization")),
      req.headers.get("x-id-token") ?? undefined,
    );
    const access = kind === "write" ? "write" : "read";
    const tenants = resolveTenants(
      req.headers.get("x-scope-orgid"),
      grantFor(user.claims, this.config.tenants),
      access,
    );
    const identity: Identity = { ...(await this.#actorOf(user)), tenants, scopes: user.scopes };

    const headers = cleanRequestHeaders(req.headers, {
      clientIp,
      proto: url.protocol.replace(":", ""),
      keepAuthorization: this.config.upstream.forward_authorization,
    });
    headers.set("x-scope-orgid", tenants.join("|"));
    headers.set("x-loki-actor-path", identity.actorPath);
    if (this.#sign) headers.set(IDENTITY_HEADER, await (await this.#sign)(identity));
    return { kind, identity, target: this.#target(kind, url), headers };
  }

  // Hashes depend only on the verified user, which the token cache keeps: compute them once per token.
  readonly #actors = new WeakMap<VerifiedUser, Promise<{ subject: string; actorPath: string }>>();
  #actorOf(user: VerifiedUser): Promise<{ subject: string; actorPath: string }> {
    let derived = this.#actors.get(user);
    if (!derived) {
      derived = Promise.all([this.actors.subjectHash(user), this.actors.pathFor(user)]).then(
        ([subject, actorPath]) => ({ subject, actorPath }),
      );
      this.#actors.set(user, derived);
    }
    return derived;
  }

  #target(kind: RouteKind, url: URL): URL | undefined {
    const up = this.config.upstream;
    const base = kind === "write" ? up.write_url : kind === "tail" ? (up.tail_url ?? up.read_url) : up.read_url;
    if (!base) {
      if (kind === "write") throw new ApiError("not_found", "writes are not configured on this gateway");
      return undefined; // served in this process
    }
    return upstreamUrl(base, url.pathname, url.search);
  }
}
