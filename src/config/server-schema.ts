import { z } from "zod";
import { duration } from "./common.js";

// The process's own sections: listeners, demo mode, logging, the status page, the runtime file.

const listen = z.string().regex(/^[^\s:]*:\d{1,5}$/, 'use "host:port", e.g. 127.0.0.1:8080');

export const server = z
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
    // listener stays one, in the primary process, with every worker's metrics added up. Not
    // frontend.async.job_workers (async queries one replica runs at once).
    workers: z.number().int().min(1).max(256).default(1),
  })
  .strict()
  .prefault({});

export const demo = z
  .object({ enabled: z.boolean().default(false) })
  .strict()
  .prefault({});

export const log = z
  .object({
    level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    // Queries slower than this get a "slow query" line of their own.
    slow_query: duration().default(10_000),
  })
  .strict()
  .prefault({});

// The status page (/status on the admin listener): how long it remembers, how often it samples.
export const status = z
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
  });

// The per-tenant sections (runtimeSchema) read again from `file` on SIGHUP and every `period` (as Loki's).
export const runtimeConfig = z
  .object({ file: z.string().min(1), period: duration().default(10_000) })
  .strict()
  .refine((r) => r.period === 0 || r.period >= 1000, { message: "period: 0 (SIGHUP only) or at least 1s" });
