import type { FrontendConfig } from "../../config/schema.js";
import type { Cache, CacheEvents } from "./cache.js";
import { MemcachedCache } from "./memcached.js";
import { MemoryCache } from "./memory.js";

export function buildCache(config: FrontendConfig["cache"], events: CacheEvents): Cache {
  if (config.backend === "memcached") {
    const m = config.memcached!;
    return new MemcachedCache(
      {
        servers: m.servers,
        timeoutMs: m.timeout,
        maxItemBytes: m.max_item_bytes,
        breakerFailures: m.breaker_failures,
        breakerCooldownMs: m.breaker_cooldown,
      },
      events,
    );
  }
  return new MemoryCache(config.memory_max_bytes);
}
