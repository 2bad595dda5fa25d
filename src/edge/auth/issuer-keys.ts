import { createLocalJWKSet, createRemoteJWKSet, errors, type FlattenedJWSInput, type JWSHeaderParameters } from "jose";
import type { IssuerConfig } from "../../config/schema.js";
import { IdpUnavailable } from "./errors.js";

export interface KeyTiming {
  cooldownMs: number;
  maxAgeMs: number;
  timeoutMs: number;
}

type RemoteSet = ReturnType<typeof createRemoteJWKSet>;

/** Errors that are answers about the token itself, not about reaching the identity provider. */
const tokenErrors = [
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
  errors.JOSEAlgNotAllowed,
  errors.JOSENotSupported,
];
const isTokenError = (e: unknown) => tokenErrors.some((T) => e instanceof T);

/**
 * The signing keys of one issuer: OIDC discovery (or an explicit jwks_uri), then jose's remote JWKS,
 * which caches keys and refetches for an unknown kid at most once per cooldown. When the provider
 * cannot be reached, the last keys we saw still decide; only when they cannot does it become a 503.
 */
export class IssuerKeys {
  #remote?: RemoteSet;
  #discovery?: Promise<RemoteSet>;
  #failedAt = 0;
  #lastFailure: unknown;

  constructor(
    readonly config: IssuerConfig,
    readonly timing: KeyTiming,
  ) {}

  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    const remote = await this.#jwks();
    try {
      return await remote(header, token);
    } catch (e) {
      if (isTokenError(e)) throw e;
      const last = remote.jwks();
      if (last) {
        try {
          return await createLocalJWKSet(last)(header, token);
        } catch (inner) {
          if (!(inner instanceof errors.JWKSNoMatchingKey)) throw inner;
        }
      }
      throw new IdpUnavailable(this.config.issuer, e);
    }
  };

  /** Undefined when keys are loaded or loadable; otherwise why not. */
  async problem(): Promise<string | undefined> {
    try {
      const remote = await this.#jwks();
      if (!remote.jwks()) await remote.reload();
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  async #jwks(): Promise<RemoteSet> {
    if (this.#remote) return this.#remote;
    if (Date.now() - this.#failedAt < this.timing.cooldownMs)
      throw new IdpUnavailable(this.config.issuer, this.#lastFailure);
    this.#discovery ??= this.#discover().then(
      (uri) =>
        (this.#remote = createRemoteJWKSet(new URL(uri), {
          cooldownDuration: this.timing.cooldownMs,
          cacheMaxAge: this.timing.maxAgeMs,
          timeoutDuration: this.timing.timeoutMs,
        })),
      (e: unknown) => {
        this.#failedAt = Date.now();
        this.#lastFailure = e;
        this.#discovery = undefined;
        throw new IdpUnavailable(this.config.issuer, e);
      },
    );
    return this.#discovery;
  }

  async #discover(): Promise<string> {
    if (this.config.jwks_uri) return this.config.jwks_uri;
    const url = `${this.config.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    const res = await fetch(url, {
      signal: AbortSignal.timeout(this.timing.timeoutMs),
      headers: { accept: "application/json" },
    });
    if (!res.ok) throw new Error(`discovery ${url} answered ${res.status}`);
    const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // OIDC Discovery §4.3: the document must name exactly the issuer we asked.
    if (doc.issuer !== this.config.issuer)
      throw new Error(`discovery ${url} names issuer ${JSON.stringify(doc.issuer)}, expected ${this.config.issuer}`);
    if (typeof doc.jwks_uri !== "string" || !/^https?:\/\//.test(doc.jwks_uri))
      throw new Error(`discovery ${url} has no jwks_uri`);
    return doc.jwks_uri;
  }
}
