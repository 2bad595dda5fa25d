import memjs from "memjs";
import type { Cache, CacheEvents } from "./cache.js";

export interface MemcachedOptions {
  /** One memcached, "host:port": several make a ring (ring.ts), each with its own deadline and breaker. */
  server: string;
  /** Our own deadline per operation: a slow cache must never slow a query down much. */
  timeoutMs: number;
  /** Values larger than this are not sent (memcached's default item size is 1 MiB). */
  maxItemBytes: number;
  /** Consecutive failures that open the breaker, and how long it stays open. */
  breakerFailures: number;
  breakerCooldownMs: number;
}

class Timeout extends Error {}

const TOO_LARGE = /too large/i;

/**
 * One memcached through memjs, with what memjs lacks: a deadline per operation, and a circuit breaker
 * that bypasses a failing memcached for a cool-down so queries never wait on it (the cache fails
 * open). memjs logs to the console by default; its messages go to our events instead.
 */
export class MemcachedCache implements Cache {
  readonly #client: memjs.Client;
  #failures = 0;
  #openUntil = 0;

  constructor(
    readonly opts: MemcachedOptions,
    readonly events: CacheEvents = {},
  ) {
    this.#client = memjs.Client.create(opts.server, {
      // memjs' own timeouts fail every request in flight on that socket; ours are per operation.
      timeout: Math.max(0.05, (opts.timeoutMs * 2) / 1000),
      conntimeout: Math.max(0.1, (opts.timeoutMs * 4) / 1000),
      retries: 0,
      // memjs' failover marks a server dead for failoverTime after one socket error; our breaker decides instead.
      failover: false,
      keepAlive: true,
      // Failures are reported once per operation by #op; memjs' own console lines would repeat them.
      logger: { log: () => undefined },
    });
  }

  get open(): boolean {
    return Date.now() < this.#openUntil;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const r = await this.#op("get", () => this.#client.get(key));
    return r?.value ? new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.byteLength) : undefined;
  }

  async set(key: string, value: Uint8Array, ttlSeconds: number): Promise<boolean> {
    if (value.byteLength > this.opts.maxItemBytes) {
      this.events.skipped?.(value.byteLength, this.opts.server);
      return false;
    }
    // memcached reads an expiry over 30 days as an absolute Unix time.
    const expires = ttlSeconds > 2_592_000 ? Math.floor(Date.now() / 1000) + ttlSeconds : ttlSeconds;
    return (
      (await this.#op(
        "set",
        () => this.#client.set(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength), { expires }),
        TOO_LARGE,
      )) ?? false
    );
  }

  async delete(key: string): Promise<void> {
    await this.#op("delete", () => this.#client.delete(key));
  }

  async close(): Promise<void> {
    this.#client.close();
  }

  async #op<T>(name: string, f: () => Promise<T>, refusal?: RegExp): Promise<T | undefined> {
    if (this.open) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const result = await Promise.race([
        f(),
        new Promise<never>(
          (_, reject) =>
            (timer = setTimeout(
              () => reject(new Timeout(`memcached ${name} took over ${this.opts.timeoutMs}ms`)),
              this.opts.timeoutMs,
            )),
        ),
      ]);
      if (this.#failures >= this.opts.breakerFailures) this.events.state?.(false, this.opts.server);
      this.#failures = 0;
      return result;
    } catch (e) {
      // memcached refusing one value (larger than its -I) is an answer, not a failure of the backend.
      if (refusal?.test(String(e))) {
        this.events.skipped?.(0, this.opts.server);
        return undefined;
      }
      this.events.error?.(name, e, this.opts.server);
      if (++this.#failures === this.opts.breakerFailures) {
        this.#openUntil = Date.now() + this.opts.breakerCooldownMs;
        this.events.state?.(true, this.opts.server);
      } else if (this.#failures > this.opts.breakerFailures) {
        // Still failing after the cool-down: stay open for another one.
        this.#openUntil = Date.now() + this.opts.breakerCooldownMs;
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
