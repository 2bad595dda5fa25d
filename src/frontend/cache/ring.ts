import type { Cache } from "./cache.js";
import { Rendezvous, type RendezvousNode } from "../rendezvous.js";

export interface RingServer extends RendezvousNode {
  /** The server's own cache, with its own deadline and breaker (a MemcachedCache). */
  cache: Cache;
}

/**
 * Several cache servers as one Cache: each key lives on the server rendezvous hashing picks, so
 * adding or removing one of N servers moves about 1/N of the keys. A failing server is not replaced
 * by another for its keys: its own breaker makes them misses at once (the cache fails open for its
 * share only), the other servers keep serving theirs, and every replica keeps agreeing on who owns
 * what without coordination. When it comes back, its keys are cached on it again.
 */
export class RingCache implements Cache {
  readonly #ring: Rendezvous<RingServer>;

  constructor(servers: readonly RingServer[]) {
    this.#ring = new Rendezvous(servers);
  }

  get servers(): RingServer[] {
    return this.#ring.nodes;
  }

  /** The server that holds `key`. */
  serverFor(key: string): RingServer {
    return this.#ring.owner(key);
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.serverFor(key).cache.get(key);
  }

  set(key: string, value: Uint8Array, ttlSeconds: number): Promise<boolean> {
    return this.serverFor(key).cache.set(key, value, ttlSeconds);
  }

  delete(key: string): Promise<void> {
    return this.serverFor(key).cache.delete(key);
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.cache.close()));
  }
}
