import type { RateLimitConfig } from "../config/routes.js";
import { ApiError, printable } from "../http/errors.js";

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets by key (an actor path, a tenant), in this process only: on Workers each isolate counts for itself,
 * so the limit holds per isolate. At most maxKeys buckets are kept; the least recently used is dropped first, and a
 * dropped bucket comes back full, so forgetting only ever errs on the generous side.
 */
export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  constructor(
    readonly rate: number,
    readonly burst: number,
    readonly maxKeys: number,
    readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `key` has a token (0: it has one now), without taking it. */
  wait(key: string): number {
    const b = this.#refilled(key);
    return b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) / this.rate) * 1000);
  }

  /** Takes one token; returns 0 when there was one, else the milliseconds until there will be. */
  take(key: string): number {
    const wait = this.wait(key);
    if (wait === 0) this.#buckets.get(key)!.tokens -= 1;
    return wait;
  }

  #refilled(key: string): Bucket {
    const t = this.now();
    const b = this.#buckets.get(key) ?? { tokens: this.burst, at: t };
    this.#buckets.delete(key); // re-inserted below: the map's order is the order of use
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
    b.at = t;
    this.#buckets.set(key, b);
    if (this.#buckets.size > this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    return b;
  }

  get size(): number {
    return this.#buckets.size;
  }
}

/** The edge's request-rate limit: one bucket per actor path, one per tenant; a request takes a token from each. */
export class RateLimit {
  readonly #actor?: TokenBuckets;
  readonly #tenant?: TokenBuckets;
  constructor(config: RateLimitConfig, now?: () => number) {
    if (config.actor) this.#actor = new TokenBuckets(config.actor.rate, config.actor.burst, config.max_keys, now);
    if (config.tenant) this.#tenant = new TokenBuckets(config.tenant.rate, config.tenant.burst, config.max_keys, now);
  }

  /**
   * Throws 429 with Retry-After (whole seconds) when the actor or one of the tenants is over its rate. A refused
   * request takes no token from any bucket: a tenant over its rate does not also drain its actors' buckets.
   */
  check(actorPath: string, tenants: readonly string[]): void {
    const actorWait = this.#actor?.wait(actorPath) ?? 0;
    if (actorWait > 0) throw tooMany(actorWait, "you are sending requests faster than this gateway allows");
    for (const t of tenants) {
      const wait = this.#tenant?.wait(t) ?? 0;
      if (wait > 0) throw tooMany(wait, `tenant "${printable(t)}" is sending requests faster than this gateway allows`);
    }
    this.#actor?.take(actorPath);
    for (const t of tenants) this.#tenant?.take(t);
  }
}

function tooMany(waitMs: number, what: string): ApiError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new ApiError("too_many_requests", `${what}; retry in ${seconds}s`, { "retry-after": String(seconds) });
}
