import { createLocalJWKSet, errors, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters } from "jose";
import type { IssuerConfig } from "../../config/schema.js";
import { IdpUnavailable } from "./errors.js";
import { SingleFlight } from "./single-flight.js";

export interface KeyTiming {
  cooldownMs: number;
  maxAgeMs: number;
  timeoutMs: number;
  /** Epoch ms; tests move it. */
  now?: () => number;
}

interface KeySet {
  find: ReturnType<typeof createLocalJWKSet>;
  fetchedAt: number;
}

// A JWKS holds a handful of keys; anything this large is not one.
const MAX_JWKS_BYTES = 1024 * 1024;
// Waiters give the fetch's own timeout a moment to report its real error first.
const WAIT_GRACE_MS = 1000;

/**
 * The signing keys of one issuer: OIDC discovery (or an explicit jwks_uri), then the JWKS, kept for
 * max_age. One fetch is in flight at a time, shared by every request that needs it, on Node and on
 * Workers alike (jose's remote key set shares nothing on Workers). Any fetch, whatever its cause,
 * starts at most once per cooldown: an unknown kid (perhaps a rotated key) refetches only then,
 * otherwise it is refused at once. When the provider cannot be reached, the last keys we saw still
 * decide; only when they cannot does it become a 503.
 */
export class IssuerKeys {
  #keys?: KeySet;
  #jwksUri?: string;
  #attemptAt = Number.NEGATIVE_INFINITY;
  /** Why the last fetch failed; undefined once one succeeds. */
  #failure: unknown;
  readonly #flight = new SingleFlight<KeySet>();
  readonly #now: () => number;

  constructor(
    readonly config: IssuerConfig,
    readonly timing: KeyTiming,
  ) {
    this.#now = timing.now ?? Date.now;
  }

  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    let keys = this.#keys;
    if (!keys || this.#now() - keys.fetchedAt >= this.timing.maxAgeMs) keys = (await this.#fetch()) ?? this.#keys;
    if (!keys) throw new IdpUnavailable(this.config.issuer, this.#failure);
    try {
      return await keys.find(header, token);
    } catch (e) {
      if (!(e instanceof errors.JWKSNoMatchingKey)) throw e;
      const fresh = await this.#fetch();
      if (fresh) return fresh.find(header, token);
      // Still cooling down: the provider's answer stands, unless it could not be asked.
      if (this.#failure !== undefined) throw new IdpUnavailable(this.config.issuer, this.#failure);
      throw e;
    }
  };

  /** Undefined when keys are loaded or loadable; otherwise why not. */
  async problem(): Promise<string | undefined> {
    if (this.#keys || (await this.#fetch())) return undefined;
    return new IdpUnavailable(this.config.issuer, this.#failure).message;
  }

  /** Fresh keys: joins the fetch in flight, or starts one unless one started within the cooldown. */
  async #fetch(): Promise<KeySet | undefined> {
    if (!this.#flight.running && this.#now() - this.#attemptAt < this.timing.cooldownMs) return undefined;
    try {
      return await this.#flight.run(() => {
        this.#attemptAt = this.#now();
        return this.#load();
      }, this.timing.timeoutMs + WAIT_GRACE_MS);
    } catch (e) {
      this.#failure = e;
      return undefined;
    }
  }

  async #load(): Promise<KeySet> {
    const signal = AbortSignal.timeout(this.timing.timeoutMs);
    this.#jwksUri ??= await this.#discover(signal);
    const res = await fetch(this.#jwksUri, {
      signal,
      headers: { accept: "application/jwk-set+json, application/json" },
    });
    if (!res.ok) throw new Error(`JWKS ${this.#jwksUri} answered ${res.status}`);
    const text = await res.text();
    if (text.length > MAX_JWKS_BYTES) throw new Error(`JWKS ${this.#jwksUri} is larger than ${MAX_JWKS_BYTES} bytes`);
    const find = createLocalJWKSet(JSON.parse(text) as JSONWebKeySet);
    this.#keys = { find, fetchedAt: this.#now() };
    this.#failure = undefined;
    return this.#keys;
  }

  async #discover(signal: AbortSignal): Promise<string> {
    if (this.config.jwks_uri) return this.config.jwks_uri;
    const url = `${this.config.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    const res = await fetch(url, { signal, headers: { accept: "application/json" } });
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
