import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils";
import { decodeJwt, jwtVerify, type JWTPayload } from "jose";
import type { EdgeConfig, IssuerConfig } from "../../config/schema.js";
import { ApiError } from "../../http/errors.js";
import { claimList, claimString } from "./claims.js";
import { describeJoseError, IdpUnavailable, idpUnavailable, invalidToken } from "./errors.js";
import { IssuerKeys } from "./issuer-keys.js";
import { Lru } from "./lru.js";

export interface VerifiedUser {
  issuer: string;
  subject: string;
  /** Set when the token names the client it was issued to. */
  clientId?: string;
  /** The token was issued to a client for itself (client credentials), not to a person. */
  service: boolean;
  groups: string[];
  scopes: string[];
  claims: Record<string, unknown>;
  /** Epoch ms; a cached verification is never used past it. */
  expiresAt: number;
}

interface TrustedIssuer {
  config: IssuerConfig;
  keys: IssuerKeys;
}

export class TokenVerifier {
  readonly #issuers = new Map<string, TrustedIssuer>();
  readonly #cache: Lru<string, VerifiedUser>;
  /** Recently refused tokens, by the same key and bound as #cache. */
  readonly #refused: Lru<string, { message: string; headers: Record<string, string>; until: number }>;
  readonly #retryAfterSeconds: number;

  readonly #digest: (text: string) => string;

  /**
   * `digest` hashes a token into its cache key: SHA-256 in hex. The default is pure JS (runs everywhere,
   * synchronously); on Node, node:crypto's is several times faster.
   */
  constructor(
    readonly config: EdgeConfig,
    digest?: (text: string) => string,
  ) {
    this.#digest = digest ?? ((text) => bytesToHex(sha256(utf8ToBytes(text))));
    const timing = { cooldownMs: config.jwks.cooldown, maxAgeMs: config.jwks.max_age, timeoutMs: config.jwks.timeout };
    for (const c of config.issuers) this.#issuers.set(c.issuer, { config: c, keys: new IssuerKeys(c, timing) });
    this.#cache = new Lru(config.token_cache_size);
    this.#refused = new Lru(config.token_cache_size);
    this.#retryAfterSeconds = Math.max(1, Math.ceil(config.jwks.cooldown / 1000));
  }

  /** Verifies the bearer token (and Grafana's X-ID-Token where the issuer accepts it). Throws ApiError. */
  async verify(bearer: string, idToken?: string): Promise<VerifiedUser> {
    if (bearer.length > this.config.max_token_bytes)
      throw invalidToken(`token is larger than ${this.config.max_token_bytes} bytes`);
    if (idToken !== undefined && idToken.length > this.config.max_token_bytes)
      throw invalidToken(`ID token is larger than ${this.config.max_token_bytes} bytes`);

    // Synchronous pure-JS SHA-256 (Workers too): crypto.subtle.digest is a thread hop per request on Node.
    const cacheKey = this.#digest(`${bearer}\n${idToken ?? ""}`);
    const now = Date.now();
    const cached = this.#cache.get(cacheKey);
    if (cached && cached.expiresAt > now) return cached;
    if (cached) this.#cache.delete(cacheKey);
    const refused = this.#refused.get(cacheKey);
    if (refused && refused.until > now) throw new ApiError("unauthorized", refused.message, refused.headers);

    try {
      const user = await this.#verifyUncached(bearer, idToken);
      this.#cache.set(cacheKey, user);
      return user;
    } catch (e) {
      // A bad token sent again is refused from memory, for one JWKS cooldown: the soonest a
      // refetch could change the answer. An unreachable provider (503) is never remembered.
      // Only strings are kept: an Error's captured stack would hold on to each request.
      if (e instanceof ApiError && e.status === 401)
        this.#refused.set(cacheKey, { message: e.message, headers: e.headers, until: now + this.config.jwks.cooldown });
      throw e;
    }
  }

  async #verifyUncached(bearer: string, idToken: string | undefined): Promise<VerifiedUser> {
    const trusted = this.#issuerOf(bearer);
    const payload = await this.#verifyJwt(trusted, bearer, trusted.config.audiences, "token");
    const cfg = trusted.config;
    const subject = claimString(payload, cfg.claims.subject);
    if (!subject) throw invalidToken(`token has no ${cfg.claims.subject} claim`);

    let groups = claimList(payload, cfg.claims.groups);
    let expiresAt = payload.exp! * 1000;
    if (idToken !== undefined && cfg.id_token.accept) {
      const id = await this.#verifyJwt(trusted, idToken, cfg.id_token.audiences ?? cfg.audiences, "ID token");
      if (claimString(id, cfg.claims.subject) !== subject) throw invalidToken("ID token belongs to another subject");
      groups = [...new Set([...groups, ...claimList(id, cfg.claims.groups)])];
      expiresAt = Math.min(expiresAt, id.exp! * 1000);
    }

    const clientId = cfg.claims.client_id.map((c) => claimString(payload, c)).find((v) => v !== undefined);
    const scopes = [
      ...claimList(payload, cfg.claims.scopes),
      ...(cfg.claims.scopes === "scope" ? claimList(payload, "scp") : []),
    ];
    return {
      issuer: cfg.issuer,
      subject,
      clientId,
      service: clientId !== undefined && clientId === subject,
      groups,
      scopes,
      claims: payload,
      expiresAt,
    };
  }

  /** Per issuer, why its keys cannot be had (empty when all can). */
  async problems(): Promise<string[]> {
    const all = await Promise.all([...this.#issuers.values()].map((t) => t.keys.problem()));
    return all.filter((p): p is string => p !== undefined);
  }

  #issuerOf(token: string): TrustedIssuer {
    let claims: JWTPayload;
    try {
      claims = decodeJwt(token);
    } catch {
      throw invalidToken("token is malformed (not a signed JWT)");
    }
    const trusted = typeof claims.iss === "string" ? this.#issuers.get(claims.iss) : undefined;
    if (!trusted) throw invalidToken("token issuer is not trusted here");
    return trusted;
  }

  async #verifyJwt(
    trusted: TrustedIssuer,
    token: string,
    audience: string[],
    which: "token" | "ID token",
  ): Promise<JWTPayload> {
    const toleranceSeconds = trusted.config.clock_tolerance / 1000;
    try {
      const { payload } = await jwtVerify(token, trusted.keys.getKey, {
        issuer: trusted.config.issuer,
        audience,
        algorithms: trusted.config.algorithms,
        clockTolerance: toleranceSeconds,
        requiredClaims: ["exp", "sub"],
      });
      // jose checks that iat is not in the future only together with maxTokenAge, which we do not set.
      if (payload.iat !== undefined && payload.iat > Date.now() / 1000 + toleranceSeconds)
        throw invalidToken(`${which} issued in the future (iat)`);
      return payload;
    } catch (e) {
      if (e instanceof IdpUnavailable) throw idpUnavailable(e, this.#retryAfterSeconds);
      if (e instanceof ApiError) throw e;
      throw invalidToken(describeJoseError(e, which));
    }
  }
}
