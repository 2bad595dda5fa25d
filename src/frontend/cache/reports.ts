import type { FrontendConfig } from "../../config/schema.js";
import type { FrontendMetrics } from "../../observability/metrics.js";
import type { CacheEvents } from "./cache.js";

/**
 * What the cache servers report, as metrics labelled by server and as log lines naming it. An
 * outage is logged once, not per request: each server's breaker turns it into one line.
 */
export function cacheReports(
  config: FrontendConfig["cache"],
  metrics: FrontendMetrics,
  log: (line: string) => void,
): CacheEvents {
  const servers = config.backend === "memcached" ? config.memcached!.servers : [];
  // Every server is on the breaker gauge from the start, so a dashboard sees 0 rather than nothing.
  for (const s of servers) metrics.cacheBypassed.set({ server: s.address }, 0);
  const cooldown = config.memcached?.breaker_cooldown ?? 0;
  const others = servers.length > 1 ? "; the other servers keep serving theirs" : "";
  return {
    error: (op, _error, server) => metrics.cacheErrors.inc({ op, server }),
    state: (open, server) => {
      metrics.cacheBypassed.set({ server }, open ? 1 : 0);
      log(
        open
          ? `cache: memcached ${server} is failing; bypassing it for ${cooldown} ms at a time ` +
              `(queries go on, its keys uncached${others})`
          : `cache: memcached ${server} is back`,
      );
    },
    skipped: () => metrics.cacheSkipped.inc({ reason: "too_large" }),
  };
}
