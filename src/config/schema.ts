import { z } from "zod";
import { parseDurationMs } from "./duration.js";
import { parseQuerierAddress } from "./querier-address.js";
import { byteSize, rateLimitSchema, routesSchema } from "./routes.js";
import type { LabelPolicy } from "../policy/policy.js";
import { parsePolicyTemplate, usesClaimValue } from "../policy/template.js";
import { tenantIdProblem } from "./tenant-id.js";

/** A duration ("30s", "5m", or seconds as a number), parsed to milliseconds. */
const duration = () =>
  z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      const ms = parseDurationMs(v);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: `not a duration: ${JSON.stringify(v)} (use e.g. 500ms, 30s, 5m, 1h)` });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ unit: "duration" }); // for the configuration reference (src/config/reference.ts)

const url = () => z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

const tenantId = z.string().superRefine((v, ctx) => {
  const p = tenantIdProblem(v);
  if (p) ctx.addIssue({ code: "custom", message: p });
});

// Symmetric algorithms (HS*) and "none" are never accepted for user tokens: with a public JWKS,
// accepting HS256 would let anyone sign with the public key (algorithm confusion).
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;

const issuer = z
  .object({
    issuer: url(),
    audiences: z.array(z.string().min(1)).min(1, "list at least one accepted audience"),
    algorithms: z
      .array(z.enum(ASYMMETRIC_ALGORITHMS, { error: "only asymmetric algorithms are accepted (RS*, PS*, ES*, EdDSA)" }))
      .min(1)
      .default(["RS256", "PS256", "ES256", "EdDSA"]),
    jwks_uri: url().optional(),
    clock_tolerance: duration().default(30_000),
    claims: z
      .object({
        subject: z.string().default("sub"),
        groups: z.string().default("groups"),
        scopes: z.string().default("scope"),
        // A token whose subject equals one of these claims was issued to a client, not a person.
        client_id: z.array(z.string()).default(["client_id", "azp"]),
      })
      .prefault({}),
    id_token: z
      .object({
        // Verify Grafana's X-ID-Token header and add its claims (groups) to the access token's.
        accept: z.boolean().default(false),
        audiences: z.array(z.string().min(1)).optional(),
      })
      .prefault({}),
  })
  .strict();

/**
 * A query a tenant or a group of users may not run (Loki's blocked_queries, with Mimir's reason): every part
 * given must match. `pattern` is the exact query text (trimmed), or a regex with `regex: true`; `hash` is Loki's
 * query_hash (32-bit FNV-1 of the text); `types` are LogQL's metric, filter and limited; `source` is the client's
 * X-Query-Tags source (case-insensitive). With `every`, a match is allowed once per interval instead of never
 * (Mimir's limited_queries).
 */
const blockedQuery = z
  .object({
    pattern: z.string().min(1).optional(),
    regex: z.boolean().default(false),
    hash: z.number().int().min(0).max(0xffffffff).optional(),
    types: z
      .union([z.string(), z.array(z.string())])
      .transform((v) => (typeof v === "string" ? v.split(",") : v).map((t) => t.trim()).filter(Boolean))
      .pipe(z.array(z.enum(["metric", "filter", "limited"], { error: "use metric, filter or limited" })))
      .optional(),
    source: z.string().min(1).optional(),
    every: duration().optional(),
    reason: z.string().min(1).max(200).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.pattern === undefined && b.hash === undefined && b.types === undefined && b.source === undefined)
      ctx.addIssue({ code: "custom", message: "give pattern, hash, types or source: which queries to block" });
    if (b.regex && b.pattern !== undefined)
      try {
        new RegExp(b.pattern);
      } catch (e) {
        ctx.addIssue({ code: "custom", path: ["pattern"], message: `not a regex: ${(e as Error).message}` });
      }
  });

export type BlockedQuery = z.infer<typeof blockedQuery>;

const regexText = z.string().superRefine((v, ctx) => {
  try {
    new RegExp(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: `not a regex: ${(e as Error).message}` });
  }
});

/**
 * A request a tenant or a group of users may not make (Mimir's blocked_requests): every part given must match.
 * `path` is the API path (e.g. /api/v1/series); `query_params` each name a parameter whose value (any of its
 * values) equals `value`, or matches it whole with `is_regexp`.
 */
const blockedRequest = z
  .object({
    path: z.string().startsWith("/").optional(),
    method: z
      .string()
      .transform((m) => m.toUpperCase())
      .optional(),
    query_params: z
      .record(z.string(), z.object({ value: regexText, is_regexp: z.boolean().default(false) }).strict())
      .optional(),
    reason: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine((b) => b.path !== undefined || b.method !== undefined || b.query_params !== undefined, {
    message: "give path, method or query_params: which requests to block",
  });

export type BlockedRequest = z.infer<typeof blockedRequest>;

/**
 * The limits that bound what one query may cost: per tenant (frontend.limits, frontend.tenant_limits) and per
 * group of users (a tenant rule's `limits`). The strictest of all that apply wins; 0 means no limit; lists add up.
 */
const queryLimitShape = {
  // Longest time range one query may cover; 0 means no limit (Loki's API: 721h unless configured).
  max_query_length: duration(),
  // How far back a query may reach: its start is moved up to now − this.
  max_query_lookback: duration(),
  // Longest [range] in a LogQL query (Loki enforces it: sent in X-Loki-Query-Limits).
  max_query_range: duration(),
  max_entries_limit_per_query: z.number().int().min(1),
  // Series in one answer (metric queries and series lookups).
  max_query_series: z.number().int().min(0),
  // Bytes a LogQL query may read, as Loki's index/stats estimates before it runs.
  max_query_bytes_read: byteSize(),
  query_timeout: duration(),
  max_query_parallelism: z.number().int().min(1),
  // Labels every stream selector must match on (Loki enforces it: sent in X-Loki-Query-Limits).
  required_labels: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "a label name")),
  blocked_queries: z.array(blockedQuery),
  blocked_requests: z.array(blockedRequest),
};

/** A group of users' limits (a tenant rule's `limits`): they only ever tighten the tenant's. */
const userLimits = z.object(queryLimitShape).partial().strict();
export type UserLimits = z.infer<typeof userLimits>;

/** Per-tenant query limits: DEFAULT_LIMITS, then `frontend.limits`, then `frontend.tenant_limits.<id>`. */
const limitsOverride = z
  .object({
    ...queryLimitShape,
    max_points_per_series: z.number().int().min(1),
    // Split intervals per query kind; 0 turns splitting off.
    split_metric_queries_by_interval: duration(),
    split_log_queries_by_interval: duration(),
    split_metadata_queries_by_interval: duration(),
    // A query cut into more pieces than this is cut at a multiple of its interval instead.
    max_splits_per_query: z.number().int().min(1),
    // Off by default: exact PromQL answers. On: start/end snap to the step grid, so repeated
    // dashboard queries hit the same cache entries, at the price of results shifted by up to one step.
    align_queries_with_step: z.boolean(),
    // Nothing newer than now − this is cached: recent data may still change (late samples, ingesters).
    max_cache_freshness: duration(),
    max_metadata_cache_freshness: duration(),
    // Query sharding in front of Loki or Mimir queriers (frontend.querier_kind): shards per range query (0, 1: off;
    // Loki's are rounded down to a power of two), at most max_sharded_queries pieces (splits × shards) per query,
    // and none for a query with a regex matcher longer than max_regexp_size_bytes.
    query_sharding_total_shards: z.number().int().min(0).max(512),
    query_sharding_max_sharded_queries: z.number().int().min(1),
    query_sharding_max_regexp_size_bytes: z.number().int().min(0),
  })
  .partial()
  .strict();

export type Limits = Required<z.infer<typeof limitsOverride>>;
export type LimitsOverride = z.infer<typeof limitsOverride>;

export const DEFAULT_LIMITS: Limits = {
  max_query_length: 0,
  max_query_lookback: 0,
  max_query_range: 0,
  max_points_per_series: 11_000,
  max_entries_limit_per_query: 5_000,
  max_query_series: 0,
  max_query_bytes_read: 0,
  split_metric_queries_by_interval: 86_400_000,
  split_log_queries_by_interval: 3_600_000,
  split_metadata_queries_by_interval: 86_400_000,
  max_query_parallelism: 14,
  max_splits_per_query: 512,
  align_queries_with_step: false,
  query_timeout: 120_000,
  max_cache_freshness: 600_000,
  max_metadata_cache_freshness: 86_400_000,
  query_sharding_total_shards: 16,
  query_sharding_max_sharded_queries: 128,
  query_sharding_max_regexp_size_bytes: 4096,
  required_labels: [],
  blocked_queries: [],
  blocked_requests: [],
};

/** Loki's own default max_query_length (721h): a Loki API query longer than this is refused unless configured. */
export const LOKI_MAX_QUERY_LENGTH = 721 * 3_600_000;

// A claim value a rule compares with: YAML's true and 42 match the claims true and 42 (and "true", "42").
const claimValue = z.union([z.string(), z.number(), z.boolean()]);

/**
 * When a tenant rule applies. Each part given must hold: `claim` (it contains one of `values`, or
 * without `values` it is present and not false), `all` (every condition), `any` (at least one).
 */
const conditionShape = {
  claim: z.string().min(1).optional(),
  values: z.array(claimValue).optional(),
  get all() {
    return z.array(condition).min(1, "list at least one condition").optional();
  },
  get any() {
    return z.array(condition).min(1, "list at least one condition").optional();
  },
};

function checkCondition(c: { claim?: string; values?: unknown; all?: unknown; any?: unknown }, ctx: z.RefinementCtx) {
  if (c.claim === undefined && c.all === undefined && c.any === undefined)
    ctx.addIssue({ code: "custom", message: "give claim (with optional values), all or any" });
  if (c.values !== undefined && c.claim === undefined)
    ctx.addIssue({ code: "custom", path: ["values"], message: "values needs claim: the claim they are compared with" });
}

const condition = z.object(conditionShape).strict().superRefine(checkCondition);

// A label policy template, parsed once here: a configuration mistake is reported at load time.
const labelPolicy = z.string().transform((text, ctx): LabelPolicy => {
  try {
    return parsePolicyTemplate(text);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});

const tenantRule = z
  .object({
    ...conditionShape,
    // Tenants granted; "$value" stands for each value of the rule's own claim that matched and is a valid tenant ID.
    read: z.array(z.string()).default([]),
    write: z.array(z.string()).default([]),
    federate: z.boolean().default(false),
    default: tenantId.optional(),
    // Label policies for the tenants this rule lets read: matcher lists such as 'namespace=~"team-a-.*"' or
    // '{cluster="eu-1", app!="billing"}', OR'ed; "$value" is each matched value of the rule's claim, escaped.
    // Without labels the rule grants whole tenants.
    labels: z.array(labelPolicy).min(1, "list at least one label policy, or leave labels out").optional(),
    // Limits for the users this rule matches, on the tenants it lets them read (on every tenant when it grants
    // none); they only tighten the tenant's.
    limits: userLimits.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    checkCondition(r, ctx);
    if (r.claim === undefined && r.labels?.some(usesClaimValue))
      ctx.addIssue({
        code: "custom",
        path: ["labels"],
        message: '"$value" stands for values of the rule\'s own claim: add claim (and values) to the rule',
      });
    for (const key of ["read", "write"] as const)
      r[key].forEach((t, i) => {
        if (t === "$value" && r.claim === undefined)
          ctx.addIssue({
            code: "custom",
            path: [key, i],
            message: '"$value" stands for values of the rule\'s own claim: add claim (and values) to the rule',
          });
        const p = t === "$value" ? undefined : tenantIdProblem(t);
        if (p) ctx.addIssue({ code: "custom", path: [key, i], message: `${p} (or use "$value")` });
      });
  });

// Who may read and write which tenant, under which label policies: reloadable (runtime_config).
const tenants = z
  .object({
    rules: z.array(tenantRule).min(1, "add at least one rule, or nobody can read anything"),
    default: tenantId.optional(),
  })
  .strict();

const PLACEHOLDERS = ["{hash}", "{client}", "{issuer}"];
const actorTemplate = z.string().min(1);

const actor = z
  .object({
    secret: z.string().min(16, "use a secret of at least 16 characters (e.g. openssl rand -hex 32)"),
    user_path: actorTemplate.default("users|{hash}"),
    service_path: actorTemplate.default("services|{client}"),
    max_levels: z.number().int().min(1).max(16).default(3),
  })
  .strict()
  .superRefine((a, ctx) => {
    for (const key of ["user_path", "service_path"] as const) {
      const segments = a[key].split("|");
      if (segments.length > a.max_levels)
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `has ${segments.length} levels, more than max_levels (${a.max_levels})`,
        });
      for (const s of segments) {
        if (s === "") ctx.addIssue({ code: "custom", path: [key], message: "has an empty segment" });
        const literal = PLACEHOLDERS.reduce((acc, p) => acc.replaceAll(p, ""), s);
        if (!/^[A-Za-z0-9_.:-]*$/.test(literal))
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: `segment "${s}" may only hold [A-Za-z0-9_.:-] and ${PLACEHOLDERS.join(", ")}`,
          });
      }
    }
  });

const signedIdentity = z
  .object({
    // HS256 with a shared secret, or ES256 with a key pair (private key on the edge, public on the frontend).
    secret: z.string().min(32, "use a secret of at least 32 characters").optional(),
    private_jwk: z.string().optional(),
    public_jwk: z.string().optional(),
    ttl: duration()
      .default(30_000)
      .refine((ms) => ms > 0 && ms <= 60_000, "must be between 1ms and 60s"),
  })
  .strict();

const edge = z
  .object({
    issuers: z.array(issuer).min(1, "configure at least one trusted issuer"),
    jwks: z
      .object({
        cooldown: duration().default(30_000),
        max_age: duration().default(600_000),
        timeout: duration().default(5_000),
      })
      .prefault({}),
    token_cache_size: z.number().int().min(0).default(10_000),
    max_token_bytes: z.number().int().min(512).default(16_384),
    tenants,
    actor,
    upstream: z
      .object({
        // Read routes; omit when edge and frontend run in one process.
        read_url: url().optional(),
        write_url: url().optional(),
        tail_url: url().optional(),
        forward_authorization: z.boolean().default(false),
        timeout: duration().default(300_000),
        // Also send label policies as X-Prom-Label-Policy, for an upstream that enforces them itself.
        label_policy_header: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    rate_limit: rateLimitSchema.optional(),
  })
  .strict();

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

// A NATS server (JetStream on): asynchronous queries when async.store is nats, and replica membership.
const natsConnection = z
  .object({
    servers: z.array(z.string().min(1)).min(1),
    // One way to authenticate, or none: a token, a user and password, or a .creds file (JWT and nkey seed).
    token: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    password: z.string().optional(),
    credentials: z.string().min(1).optional(),
    tls: z
      .object({ ca_file: z.string().optional(), cert_file: z.string().optional(), key_file: z.string().optional() })
      .strict()
      .optional(),
    // Names of the work-queue stream (PREFIX_jobs) and buckets (PREFIX_records, PREFIX_answers).
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
      .default("fairgate"),
    // Copies of the stream and buckets in a NATS cluster (1 on a single server).
    replicas: z.number().int().min(1).max(5).default(1),
    // How long a submit waits for NATS before answering 503.
    timeout: duration().default(5_000),
  })
  .strict()
  .superRefine((n, ctx) => {
    const ways = [n.token, n.user, n.credentials].filter((w) => w !== undefined).length;
    if (ways > 1) ctx.addIssue({ code: "custom", message: "use one of token, user/password or credentials" });
  });

/**
 * Several frontend replicas: each tenant's fair queue lives on one owner replica, and each querier's slots are
 * shared out among the live replicas. Absent: one replica, on its own.
 */
const membership = z
  .object({
    nats: natsConnection,
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
    secret: z.string().min(16, "use a secret of at least 16 characters (e.g. openssl rand -hex 32)"),
  })
  .strict()
  .refine((m) => m.timeout > 2 * m.heartbeat, {
    message: "timeout: must be more than 2 heartbeats (one lost heartbeat must not drop a live replica)",
    path: ["timeout"],
  });

const frontend = z
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
        memory_max_bytes: z
          .number()
          .int()
          .min(1)
          .default(256 * 1024 * 1024),
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
            max_item_bytes: z
              .number()
              .int()
              .min(1024)
              .default(1024 * 1024),
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
        max_result_bytes: z
          .number()
          .int()
          .min(1024)
          .default(64 * 1024 * 1024),
        max_jobs_per_tenant: z.number().int().min(1).default(20),
        max_jobs_per_actor: z.number().int().min(1).default(3),
        // How often a running job shares its progress and renews its claim; with NATS, a job whose
        // replica stayed silent for 3 heartbeats (the ack wait) is taken by another replica.
        heartbeat: duration().default(5_000),
        // Jobs one replica runs at once; more wait in the work queue ("queued").
        workers: z.number().int().min(1).default(8),
        // memory: records and answers in this process (one replica). nats: in NATS JetStream, shared
        // by every replica, and a job whose replica dies is run again by another.
        store: z.enum(["memory", "nats"]).default("memory"),
        nats: natsConnection.optional(),
      })
      .strict()
      .superRefine((a, ctx) => {
        if (a.store === "nats" && !a.nats)
          ctx.addIssue({ code: "custom", path: ["nats"], message: "required when store is nats" });
      })
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

/**
 * What a runtime file (runtime_config) may hold: the config's per-tenant sections, each by the config's own schema,
 * so whatever is added inside them reloads too. A section given replaces the config's; one left out keeps it.
 */
export const runtimeSchema = z
  .object({
    edge: z.object({ tenants }).partial().strict().optional(),
    frontend: z
      .object({ limits: limitsOverride, tenant_limits: z.record(z.string(), limitsOverride) })
      .partial()
      .strict()
      .optional(),
  })
  .strict();

export type RuntimeOverrides = z.infer<typeof runtimeSchema>;

const listen = z.string().regex(/^[^\s:]*:\d{1,5}$/, 'use "host:port", e.g. 127.0.0.1:8080');

export const configSchema = z
  .object({
    server: z
      .object({
        listen: listen.default("127.0.0.1:8080"),
        // Operators only: /metrics, /debug/queue. Keep it off the public network.
        admin_listen: listen.optional(),
        // An admin_listen on every interface, a public address or a hostname is refused unless this says the
        // network in front of it (firewall, Kubernetes NetworkPolicy) keeps it private.
        admin_public: z.boolean().default(false),
        // TLS on `listen`, from PEM files read again on SIGHUP (renewed certificates, no dropped connections).
        tls: z
          .object({ cert_file: z.string().min(1), key_file: z.string().min(1) })
          .strict()
          .optional(),
        // Processes serving `listen` (node:cluster), for the edge alone: one per core it may use. The admin
        // listener stays one, in the primary process, with every worker's metrics added up.
        workers: z.number().int().min(1).max(256).default(1),
      })
      .strict()
      .prefault({}),
    demo: z
      .object({ enabled: z.boolean().default(false) })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
        // Queries slower than this get a "slow query" line of their own.
        slow_query: duration().default(10_000),
      })
      .strict()
      .prefault({}),
    // The status page (/status on the admin listener): how long it remembers, how often it samples.
    status: z
      .object({
        // Actors, tenants and queriers stay in its tables this long after their last sub-query.
        recent: duration().default(900_000),
        // Its charts cover this much time, sampled every `sample_every`.
        charts: duration().default(1_800_000),
        sample_every: duration().default(1_000),
        // Off by default: actor paths are keyed hashes so that nobody reading them learns who is behind one. On, the
        // edge tells which subject or client id (and `claim`, such as email) each hash stands for, and the admin
        // listener's status page and /debug/actors show it; never the public listener. Kept in memory, bounded.
        actor_directory: z
          .object({
            enabled: z.boolean().default(false),
            claim: z.string().min(1).optional(),
            max_actors: z.number().int().min(1).max(1_000_000).default(10_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({})
      .refine((s) => s.sample_every >= 250, { message: "sample_every: at least 250ms", path: ["sample_every"] })
      .refine((s) => s.charts / s.sample_every <= 7200, {
        message: "charts / sample_every: at most 7200 points per series (sample less often or chart less time)",
        path: ["charts"],
      }),
    // The per-tenant sections (runtimeSchema) read again from `file` on SIGHUP and every `period` (as Loki's).
    runtime_config: z
      .object({ file: z.string().min(1), period: duration().default(10_000) })
      .strict()
      .refine((r) => r.period === 0 || r.period >= 1000, { message: "period: 0 (SIGHUP only) or at least 1s" })
      .optional(),
    identity: signedIdentity.optional(),
    routes: routesSchema,
    edge: edge.optional(),
    frontend: frontend.optional(),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type EdgeConfig = z.infer<typeof edge>;
export type IssuerConfig = z.infer<typeof issuer>;
export type TenantRule = z.infer<typeof tenantRule>;
export type TenantCondition = z.infer<typeof condition>;
export type ActorConfig = z.infer<typeof actor>;
export type SignedIdentityConfig = z.infer<typeof signedIdentity>;
export type FrontendConfig = z.infer<typeof frontend>;
export type NatsConnectionConfig = z.infer<typeof natsConnection>;
export type MembershipConfig = z.infer<typeof membership>;
export type ActorDirectoryConfig = Config["status"]["actor_directory"];
