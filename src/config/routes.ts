import { z } from "zod";
import { byteSize, KiB, MiB, url } from "./common.js";

// RFC 6749 §3.3: a scope is printable ASCII without spaces, double quotes or backslashes.
const scope = z
  .string()
  .regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, "a scope is printable ASCII without spaces, quotes or backslashes");

const access = {
  // Scopes the token must carry for this group's routes (403 insufficient_scope otherwise); none: any token.
  scopes: z.array(scope).default([]),
  // all: every listed scope; any: at least one of them.
  scope_match: z.enum(["all", "any"]).default("all"),
};

const alwaysOn = (maxBody: number) =>
  z
    .object({ ...access, max_body_bytes: byteSize().default(maxBody) })
    .strict()
    .prefault({});

// Off unless an operator turns them on, with the upstream that serves them (e.g. Loki's compactor, the ruler).
const optional = (what: string) =>
  z
    .object({
      ...access,
      enabled: z.boolean().default(false),
      url: url().optional(),
      max_body_bytes: byteSize().default(MiB),
    })
    .strict()
    .superRefine((g, ctx) => {
      if (g.enabled && !g.url)
        ctx.addIssue({ code: "custom", path: ["url"], message: `required when enabled (the URL that serves ${what})` });
    })
    .prefault({});

/** The route policy's knobs, shared by the edge and the frontend (give both the same section). */
export const routesSchema = z
  .object({
    read: alwaysOn(MiB),
    write: alwaysOn(16 * MiB),
    delete: optional("Loki's delete API, e.g. the compactor"),
    rules: optional("the rules API, e.g. the ruler"),
    admin: optional("Prometheus's admin API"),
    // All request headers together (names, values, ": " and CRLF); larger gets 431.
    max_header_bytes: byteSize(4 * KiB).default(32 * KiB),
  })
  .strict()
  .prefault({});

const bucket = z
  .object({
    // Sustained requests per second, and how many may come at once after a quiet spell.
    rate: z.number().positive(),
    burst: z.number().int().min(1),
  })
  .strict();

/** Token buckets per actor and per tenant at the edge; off unless configured. */
export const rateLimitSchema = z
  .object({
    actor: bucket.optional(),
    tenant: bucket.optional(),
    // Buckets kept in memory; the least recently used (full soonest) go first.
    max_keys: z.number().int().min(1).default(100_000),
  })
  .strict();

export type RoutesConfig = z.infer<typeof routesSchema>;
export type RouteGroupName = "read" | "write" | "delete" | "rules" | "admin";
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;
