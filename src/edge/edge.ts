import { routesSchema, type RoutesConfig } from "../config/routes.js";
import type { EdgeConfig, SignedIdentityConfig } from "../config/schema.js";
import { ApiError } from "../http/errors.js";
import { type ActorName, IDENTITY_HEADER, identitySigner, type Identity } from "../identity/signed-identity.js";
import { LOKI_QUERY_LIMITS_HEADER, lokiQueryLimits } from "../http/loki-query-limits.js";
import { ActorPaths } from "./actor.js";
import { bearerToken } from "./auth/bearer.js";
import { getClaim } from "./auth/claims.js";
import { TokenVerifier, type VerifiedUser } from "./auth/verifier.js";
import { cleanHeaderMap, upstreamUrl } from "../http/forward.js";
import { FORM } from "../http/media-type.js";
import { checkRequest, requireScopes, type Route } from "../http/route-policy.js";
import { RateLimit } from "./rate-limit.js";
import { LABEL_POLICY_HEADER, labelPolicyHeader } from "../policy/header.js";
import { scopeReadRequest } from "./label-scope.js";
import type { Admitted, EdgeRequest } from "./request.js";
import { grantFor, readPolicies, resolveTenants, type TenantGrant } from "./tenant.js";
import { userLimitsFor } from "./user-limits.js";

const MAX_ACTORS = 10_000;

/** The value kept under `key`, made on first use. */
function memo<K, V>(map: { get(key: K): V | undefined; set(key: K, value: V): unknown }, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

export interface EdgeOptions {
  /** Sign the identity into a header for a frontend in another process. */
  signedIdentity?: SignedIdentityConfig;
  /** The route policy (the config's top-level routes section); defaults when omitted. */
  routes?: RoutesConfig;
  /** SHA-256 in hex, for the verified-token cache's keys (TokenVerifier's pure-JS one when omitted). */
  tokenDigest?: (text: string) => string;
  /**
   * The config in force, whose per-tenant sections (runtime_config) may change between requests; each request reads
   * it once. The constructor's config when omitted.
   */
  live?: () => EdgeConfig;
  /** The actor directory is on (status.actor_directory): identities say who each actor path stands for. */
  actorDirectory?: { claim?: string };
}

/**
 * The edge's decisions, free of any server: authenticate, authorize the tenant, derive the actor
 * path, clean the headers. Used by the Hono app for HTTP and by the Node server for WebSocket upgrades.
 */
export class Edge {
  readonly verifier: TokenVerifier;
  readonly actors: ActorPaths;
  readonly routes: RoutesConfig;
  readonly #sign?: Promise<(id: Identity) => Promise<string>>;
  readonly #rateLimit?: RateLimit;
  readonly #live: () => EdgeConfig;
  readonly #actorDirectory?: { claim?: string };

  constructor(
    readonly config: EdgeConfig,
    opts: EdgeOptions = {},
  ) {
    this.verifier = new TokenVerifier(config, opts.tokenDigest);
    this.actors = new ActorPaths(config.actor);
    if (opts.signedIdentity) this.#sign = identitySigner(opts.signedIdentity);
    this.routes = opts.routes ?? routesSchema.parse(undefined);
    if (config.rate_limit) this.#rateLimit = new RateLimit(config.rate_limit);
    this.#live = opts.live ?? (() => config);
    this.#actorDirectory = opts.actorDirectory;
  }

  /** Throws ApiError for anything that must not reach an upstream. */
  async admit(req: EdgeRequest, clientIp?: string): Promise<Admitted> {
    // The config in force when the request came: a reload meanwhile applies from the next request on.
    const config = this.#live();
    const url = new URL(req.url);
    const { route, path } = checkRequest(req, this.routes, url);
    const limits = this.routes[route.group];

    const user = await this.verifier.verify(
      bearerToken(req.headers.get("authorization")),
      req.headers.get("x-id-token") ?? undefined,
    );
    requireScopes(route.group, user.scopes, this.routes);
    // Deleting logs, changing rules and administering the TSDB change a tenant: they need its write access.
    const access = route.group === "write" || (route.group !== "read" && req.method !== "GET") ? "write" : "read";
    const grant = this.#grantOf(user, config.tenants);
    const tenants = resolveTenants(req.headers.get("x-scope-orgid"), grant, access);
    const identity = await this.#identityOf(user, grant, tenants);
    this.#rateLimit?.check(identity.actorPath, tenants);

    // Under label policies every read is rewritten before it goes anywhere; other groups' reads
    // (rule and alert listings, server status) cannot be scoped and are refused.
    const policies = access === "read" ? readPolicies(grant, tenants) : undefined;
    if (policies && route.group !== "read")
      throw new ApiError("forbidden", `${path} is not available to a user with label policies`);
    const scoped = policies && (await scopeReadRequest(req, path, policies, limits.max_body_bytes));
    const search = scoped ? scoped.search : url.search;

    const headers = cleanHeaderMap(req.headers, {
      clientIp,
      proto: url.protocol.replace(":", ""),
      keepAuthorization: config.upstream.forward_authorization,
    });
    // A rewritten form body is sent as the one form type, however the client spelled it.
    if (scoped?.body) headers.set("content-type", FORM);
    headers.set("x-scope-orgid", tenants.join("|"));
    headers.set("x-loki-actor-path", identity.actorPath);
    const policyHeader = policies && labelPolicyHeader(new Map(tenants.map((t) => [t, policies])));
    if (policyHeader && config.upstream.label_policy_header) headers.set(LABEL_POLICY_HEADER, policyHeader);
    if (this.#sign) headers.set(IDENTITY_HEADER, await (await this.#sign)(identity));
    // Straight to Loki (or to a frontend, which sends its own): the user's limits, which Loki only tightens with.
    const userLimits =
      identity.limits && route.target !== "tail" && path.startsWith("/loki/") && lokiQueryLimits(identity.limits);
    if (userLimits) headers.set(LOKI_QUERY_LIMITS_HEADER, userLimits);
    const target = this.#target(route, path, search);
    const maxBodyBytes = limits.max_body_bytes;
    return { kind: route.target, route, path, maxBodyBytes, identity, target, headers, search, body: scoped?.body };
  }

  // Hashes depend only on the verified user, which the token cache keeps: compute them once per token.
  readonly #actors = new WeakMap<VerifiedUser, Promise<{ subject: string; actorPath: string }>>();
  // One Identity object per user and tenants: the signer signs it once per half its lifetime.
  // Kept by the grant (per user and rules in force): a reload's new rules give new limits from the next request on.
  readonly #identities = new WeakMap<TenantGrant, Map<string, Promise<Identity>>>();
  #identityOf(user: VerifiedUser, grant: TenantGrant, tenants: string[]): Promise<Identity> {
    return memo(
      memo(this.#identities, grant, () => new Map()),
      tenants.join("|"),
      async () => {
        const limits = userLimitsFor(grant, tenants);
        return {
          ...(await this.#actorOf(user)),
          tenants,
          scopes: user.scopes,
          ...(limits ? { limits } : {}),
          ...(this.#actorDirectory ? { who: actorName(user, this.#actorDirectory.claim) } : {}),
        };
      },
    );
  }

  // A user's next token (a refresh) has the same hashes: kept by what they are computed from, a bounded number.
  readonly #actorsByUser = new Map<string, Promise<{ subject: string; actorPath: string }>>();
  #actorOf(user: VerifiedUser): Promise<{ subject: string; actorPath: string }> {
    return memo(this.#actors, user, () => {
      const key = JSON.stringify([user.service, user.issuer, user.subject, user.clientId ?? null]);
      if (!this.#actorsByUser.has(key) && this.#actorsByUser.size >= MAX_ACTORS) this.#actorsByUser.clear();
      return memo(this.#actorsByUser, key, () =>
        Promise.all([this.actors.subjectHash(user), this.actors.pathFor(user)]).then(([subject, actorPath]) => ({
          subject,
          actorPath,
        })),
      );
    });
  }

  // Like the hashes, what the tenant rules grant depends only on the verified user's claims (and on the rules, which
  // a reload replaces: the grants of rules no longer in force go with them).
  readonly #grants = new WeakMap<EdgeConfig["tenants"], WeakMap<VerifiedUser, TenantGrant>>();
  #grantOf(user: VerifiedUser, tenants: EdgeConfig["tenants"]): TenantGrant {
    return memo(
      memo(this.#grants, tenants, () => new WeakMap()),
      user,
      () => grantFor(user.claims, tenants),
    );
  }

  #target(route: Route, path: string, search: string): URL | undefined {
    const up = this.config.upstream;
    const kind = route.target;
    const base =
      kind === "group"
        ? this.routes[route.group as "delete" | "rules" | "admin"].url
        : kind === "write"
          ? up.write_url
          : kind === "tail"
            ? (up.tail_url ?? up.read_url)
            : up.read_url;
    if (!base) {
      if (kind === "write") throw new ApiError("not_found", "writes are not configured on this gateway");
      return undefined; // served in this process
    }
    return upstreamUrl(base, path, search);
  }
}

/** Who an actor path stands for, for the actor directory: the client id of a service, else the subject. */
function actorName(user: VerifiedUser, claim: string | undefined): ActorName {
  const id = user.service ? (user.clientId ?? user.subject) : user.subject;
  const value = claim === undefined ? undefined : getClaim(user.claims, claim);
  return typeof value === "string" || typeof value === "number" ? { id, claim: String(value) } : { id };
}
