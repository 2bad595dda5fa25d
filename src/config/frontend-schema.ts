import { z } from "zod";
import { byteSize, duration, MiB, natsConnection, secret, url } from "./common.js";
import { limitsOverride } from "./limits-schema.js";
import { parseQuerierAddress } from "./querier-address.js";

// The frontend section: queriers, the fair queue, the results cache, async queries, replicas, limits.

// One memcached of the results cache ring: "host:port", or { address: "host:port", weight: 2 } for a
// server that takes twice the keys of a weight-1 one.
const memcachedServer = z.preprocess(
  (v, ctx) => {
    if (typeof v === "string") return { address: v };
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
    ctx.addIssue({ code: "custom", message: 'use "host:port" or { address: "host:port", weight: 2 }' });
    return z.NEVER;
  },
  z
    .object({
      address: z.string().regex(/^[^\s:]+:\d+$/, 'use "host:port"'),
      weight: z.number().positive().max(1000).default(1),
    })
    .strict(),
);

/**
 * Several frontend replicas: each tenant's fair queue lives on one owner replica, and each querier's slots are
 * shared out among the live replicas. Absent: one replica, on its own.
 */
export const membership = z
  .object({
    // Deprecated: the top-level nats block, which the loader copies here.
    nats: natsConnection.optional().meta({ deprecated: true }),
    // Unique among the replicas; by default hostname-pid-random (a restarted replica is a new member).
    replica_id: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only (it is a NATS key)")
      .optional(),
    // How the other replicas reach this replica's listener (the internal sub-query route is served there).
    advertise_url: url(),
    heartbeat: duration().default(1_000),
    // A replica silent for this long has left: its tenants move to the others.
    timeout: duration().default(3_000),
    // The KV bucket of live replicas; by default PREFIX_members (PREFIX: nats.prefix).
    bucket: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
      .optional(),
    // Authenticates the calls replicas make to each other: the same on every replica.
    secret: secret(),
  })
  .strict()
  .refine((m) => m.timeout > 2 * m.heartbeat, {
    message: "timeout: must be more than 2 heartbeats (one lost heartbeat must not drop a live replica)",
    path: ["timeout"],
  });

export const frontend = z
  .object({
    queriers: z
      .array(
        z
          .object({
            // An http(s) URL, or queriers found by DNS: dns+HOST:PORT, dnssrv+_NAME._tcp.HOST, dnssrvnoa+…
            url: z.string().superRefine((v, ctx) => {
              try {
                parseQuerierAddress(v);
              } catch (e) {
                ctx.addIssue({ code: "custom", message: (e as Error).message });
              }
            }),
            max_concurrent: z.number().int().min(1).default(4),
            // Extra slots only an actor with nothing in flight may take: its piece starts beside a
            // flood's instead of after one of them (fairness cannot preempt work in flight).
            idle_actor_slots: z.number().int().min(0).default(2),
            // Checked in order; the querier is healthy when one answers 200 (Loki/Mimir: /ready, Prometheus: /-/ready).
            health_paths: z.array(z.string().startsWith("/")).default(["/ready", "/-/ready"]),
          })
          .strict(),
      )
      .min(1, "configure at least one querier"),
    // What the queriers are: loki and mimir queriers answer shards of a query (limits.query_sharding_*);
    // prometheus (the default) never gets sharded queries: it knows no shard parameter or matcher.
    querier_kind: z.enum(["prometheus", "mimir", "loki"]).default("prometheus"),
    // How entries of queriers written dns+, dnssrv+ or dnssrvnoa+ are looked up (docs/discovery.md).
    discovery: z
      .object({
        refresh_interval: duration().default(30_000),
        // DNS servers asked, in order (IP, IP:PORT or [IPv6]:PORT); none: the system's (/etc/resolv.conf).
        resolvers: z
          .array(
            z
              .string()
              .regex(
                /^(\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?|\[[0-9a-fA-F:.]+\](:\d{1,5})?|[0-9a-fA-F:]+)$/,
                "an IP address, with :PORT if not 53",
              ),
          )
          .default([]),
        // One lookup, all resolvers tried: past it, the last good set of queriers stays.
        timeout: duration().default(5_000),
      })
      .strict()
      .prefault({}),
    tail_url: url().optional(),
    health_check: z
      .object({
        interval: duration().default(5_000),
        timeout: duration().default(2_000),
        unhealthy_after: z.number().int().min(1).default(2),
      })
      .strict()
      .prefault({}),
    retries: z.number().int().min(1).max(10).default(5),
    queue: z
      .object({
        // Between tenants, and within each tenant unless tenant_policy says otherwise.
        policy: z.enum(["querier-time", "round-robin"]).default("querier-time"),
        tenant_policy: z.record(z.string(), z.enum(["querier-time", "round-robin"])).default({}),
        max_queue_hierarchy_levels: z.number().int().min(0).max(16).default(3),
        max_outstanding_requests_per_tenant: z.number().int().min(1).default(2048),
        max_outstanding_requests_per_actor: z.number().int().min(0).default(0),
        // Shuffle sharding: each tenant uses at most this many queriers (0 = all).
        max_queriers_per_tenant: z.number().int().min(0).default(0),
        // Querier time an actor that becomes active may use ahead of busy siblings (at most its idle time).
        activation_credit: duration().default(2_000),
        // Relative shares: a node of weight 2 may use twice the querier time of its weight-1 siblings.
        weights: z
          .array(
            z
              .object({ tenant: z.string().optional(), path: z.string().default(""), weight: z.number().positive() })
              .strict(),
          )
          .default([]),
      })
      .strict()
      .prefault({}),
    cache: z
      .object({
        // memory: a byte-bounded LRU in this process; memcached: shared by every replica.
        backend: z.enum(["memory", "memcached"]).default("memory"),
        memory_max_bytes: byteSize(1).default(256 * MiB),
        memcached: z
          .object({
            // Keys spread over the servers by rendezvous hashing on "host:port" (src/frontend/cache/ring.ts).
            servers: z
              .array(memcachedServer)
              .min(1)
              .superRefine((servers, ctx) => {
                const seen = new Set<string>();
                for (const [i, s] of servers.entries()) {
                  if (seen.has(s.address))
                    ctx.addIssue({ code: "custom", path: [i], message: `${s.address} is listed twice` });
                  seen.add(s.address);
                }
              }),
            timeout: duration().default(150),
            max_item_bytes: byteSize(1024).default(MiB),
            breaker_failures: z.number().int().min(1).default(5),
            breaker_cooldown: duration().default(10_000),
          })
          .strict()
          .optional(),
        results: z
          .object({
            enabled: z.boolean().default(true),
            ttl: duration().default(7 * 86_400_000),
            min_extent: duration().default(300_000),
          })
          .strict()
          .prefault({}),
        metadata: z
          .object({ enabled: z.boolean().default(true), ttl: duration().default(86_400_000) })
          .strict()
          .prefault({}),
        // Loki caches log queries whose answer was empty, a common case for alerting and Drilldown.
        empty_logs: z
          .object({ enabled: z.boolean().default(true), ttl: duration().default(3_600_000) })
          .strict()
          .prefault({}),
      })
      .strict()
      .superRefine((c, ctx) => {
        if (c.backend === "memcached" && !c.memcached)
          ctx.addIssue({ code: "custom", path: ["memcached"], message: "required when backend is memcached" });
      })
      .prefault({}),
    async: z
      .object({
        // An async query's own deadline, instead of the HTTP timeout.
        deadline: duration().default(1_800_000),
        // How long a finished job and its result are kept for polling.
        keep_alive: duration()
          .default(3_600_000)
          .refine((ms) => ms <= 7 * 86_400_000, "at most 7d"),
        max_wait: duration().default(30_000),
        max_result_bytes: byteSize(1024).default(64 * MiB),
        max_jobs_per_tenant: z.number().int().min(1).default(20),
        max_jobs_per_actor: z.number().int().min(1).default(3),
        // How often a running job shares its progress and renews its claim; with NATS, a job whose
        // replica stayed silent for 3 heartbeats (the ack wait) is taken by another replica.
        heartbeat: duration().default(5_000),
        // Jobs one replica runs at once; more wait in the work queue ("queued"). Not server.workers (processes).
        job_workers: z.number().int().min(1).default(8),
        // memory: records and answers in this process (one replica). nats: in NATS JetStream (the top-level nats
        // block), shared by every replica, and a job whose replica dies is run again by another.
        store: z.enum(["memory", "nats"]).default("memory"),
        // Deprecated: the top-level nats block, which the loader copies here.
        nats: natsConnection.optional().meta({ deprecated: true }),
      })
      .strict()
      .prefault({}),
    limits: limitsOverride.default({}),
    tenant_limits: z.record(z.string(), limitsOverride).default({}),
    membership: membership.optional(),
    // A "query stats" log line (who, what it cost) for each query that took at least this long; 0: every query.
    // Absent: none.
    log_queries_longer_than: duration().optional(),
    // Per-actor counters (fairgate_actor_*): the actors that used the most querier time recently get a series each,
    // at most this many; the others count under actor="other".
    top_actors: z.number().int().min(0).max(1000).default(20),
  })
  .strict()
  .refine((f) => f.tail_url !== undefined || !f.queriers[0] || !isDiscovered(f.queriers[0].url), {
    message: "required when the first querier is found by DNS (the live tail needs one address)",
    path: ["tail_url"],
  });

/** Whether a querier entry is found by DNS (false for a URL, and for an entry its own check refuses). */
function isDiscovered(entry: string): boolean {
  try {
    return parseQuerierAddress(entry).kind === "dns";
  } catch {
    return false;
  }
}
