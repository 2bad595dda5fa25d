import { z } from "zod";
import type { LabelPolicy } from "../policy/policy.js";
import { parsePolicyTemplate, usesClaimValue } from "../policy/template.js";
import { byteSize, duration, secret, tenantId, url } from "./common.js";
import { userLimits } from "./limits-schema.js";
import { rateLimitSchema } from "./routes.js";
import { tenantIdProblem } from "./tenant-id.js";

// The edge section: trusted issuers, tenant rules, actor paths, the upstream it forwards to.

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

export const issuer = z
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

export const condition = z.object(conditionShape).strict().superRefine(checkCondition);

// A label policy template, parsed once here: a configuration mistake is reported at load time.
const labelPolicy = z.string().transform((text, ctx): LabelPolicy => {
  try {
    return parsePolicyTemplate(text);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});

export const tenantRule = z
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
export const tenants = z
  .object({
    rules: z.array(tenantRule).min(1, "add at least one rule, or nobody can read anything"),
    default: tenantId.optional(),
  })
  .strict();

const PLACEHOLDERS = ["{hash}", "{client}", "{issuer}"];
const actorTemplate = z.string().min(1);

export const actor = z
  .object({
    secret: secret(),
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

export const edge = z
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
    max_token_bytes: byteSize(512).default(16_384),
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
