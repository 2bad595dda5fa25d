import { z } from "zod";
import { parseDurationMs } from "./duration.js";
import { tenantIdProblem } from "./tenant-id.js";

// The value kinds every section shares: durations, sizes, URLs, tenant IDs, secrets and the NATS connection.

/** A duration ("30s", "5m", or seconds as a number), parsed to milliseconds. */
export const duration = () =>
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

export const KiB = 1024;
export const MiB = 1024 * KiB;
const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1000,
  kib: KiB,
  mb: 1000 ** 2,
  mib: MiB,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

const formatSize = (n: number): string =>
  n % MiB === 0 ? `${n / MiB}MiB` : n % KiB === 0 ? `${n / KiB}KiB` : String(n);

/** A size in bytes, the one syntax of every size key: a number, or "512KiB", "1MiB", "16MB"; at least `min`. */
export const byteSize = (min = 0) =>
  z
    .union([z.number().int().min(0), z.string()])
    .transform((v, ctx) => {
      if (typeof v === "number") return v;
      const m = /^(\d+)\s*([a-z]*)$/i.exec(v.trim());
      const unit = m && BYTE_UNITS[m[2]!.toLowerCase()];
      if (!m || !unit) {
        ctx.addIssue({
          code: "custom",
          message: `not a size: ${JSON.stringify(v)} (use e.g. 65536, 512KiB, 1MiB, 16MB)`,
        });
        return z.NEVER;
      }
      return Number(m[1]) * unit;
    })
    .refine((n) => n >= min, `at least ${formatSize(min)}`)
    .meta({ unit: "size" }); // for the configuration reference (src/config/reference.ts)

export const url = () => z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

export const tenantId = z.string().superRefine((v, ctx) => {
  const p = tenantIdProblem(v);
  if (p) ctx.addIssue({ code: "custom", message: p });
});

/** Every shared secret's minimum (actor paths, replica calls); an HS256 key needs 256 bits (RFC 7518 §3.2). */
export const SECRET_MIN_LENGTH = 16;
export const HS256_KEY_MIN_LENGTH = 32;

/** A shared secret: one rule and one message for all of them. */
export const secret = (min = SECRET_MIN_LENGTH) =>
  z.string().min(min, `use a secret of at least ${min} characters (e.g. openssl rand -hex 32)`);

/** A NATS server (JetStream on): asynchronous queries when async.store is nats, and replica membership. */
export const natsConnection = z
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

export type NatsConnectionConfig = z.infer<typeof natsConnection>;
