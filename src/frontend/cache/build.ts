import type { FrontendConfig } from "../../config/schema.js";
import type { Cache, CacheEvents } from "./cache.js";
import { MemcachedCache } from "./memcached.js";
import { MemoryCache } from "./memory.js";
import { RingCache } from "./ring.js";

export function buildCache(config: FrontendConfig["cache"], events: CacheEvents): Cache {
  if (config.backend === "memcached") {
    const m = config.memcached!;
    const servers = m.servers.map((s) => ({
      id: s.address,
      weight: s.weight,
      cache: new MemcachedCache(
        {
          server: s.address,
          timeoutMs: m.timeout,
          maxItemBytes: m.max_item_bytes,
          breakerFailures: m.breaker_failures,
          breakerCooldownMs: m.breaker_cooldown,
        },
        events,
      ),
    }));
    // One server: that server, as before there was a ring.
    return servers.length === 1 ? servers[0]!.cache : new RingCache(servers);
  }
  return new MemoryCache(config.memory_max_bytes);
}
