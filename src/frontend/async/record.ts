import { z } from "zod";
import type { Identity } from "../../identity/signed-identity.js";

export type JobState = "queued" | "running" | "done" | "failed" | "cancelled";

/** What every replica sharing the store knows of a job. */
export interface JobRecord {
  id: string;
  /** Who may see it: exactly these tenants and this subject. */
  tenants: string[];
  subject: string;
  actorPath: string;
  state: JobState;
  progress: { splitsDone: number; splitsTotal: number };
  submittedAt: number;
  startedAt?: number;
  finishedAt?: number;
  expiresAt: number;
  /** Renewed while a replica runs the job. */
  heartbeatAt: number;
  /** How many times a replica took the job: more than 1 when one died running it. */
  attempt: number;
  /** The replica running (or that ran) the current attempt, for operators. */
  replica?: string;
  error?: string;
  /** Status and content type of the answer, and the answer's name in the store. */
  answer?: { status: number; contentType: string; name: string };
}

export interface Answer {
  status: number;
  contentType: string;
  body: string | Uint8Array;
}

/** Everything a replica needs to run the query again, as the submitting replica parsed it. */
export interface JobSpec {
  api: "loki" | "prometheus";
  /** The route under the API prefix (query_range, query) and the path the client called. */
  route: string;
  path: string;
  params: Record<string, string | string[]>;
  /** The submit time in nanoseconds, as a string: relative times in the query resolve the same on every run. */
  nowNs: string;
  identity: Identity;
  /** Headers the queriers get (tenant, actor path, traceparent...). */
  headers: [string, string][];
}

export const FINAL_STATES: readonly JobState[] = ["done", "failed", "cancelled"];
export const isFinal = (s: JobState) => FINAL_STATES.includes(s);

export const recordKey = (id: string) => `job.${id}`;

export const tenantKey = (tenants: string[]) => [...tenants].sort().join("|");

export const sameOwner = (r: JobRecord, who: Identity) =>
  r.subject === who.subject && r.tenants.join("|") === tenantKey(who.tenants);

const text = z.string();
const jobMessage = z.object({
  v: z.literal(1),
  id: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  spec: z.object({
    api: z.enum(["loki", "prometheus"]),
    route: text,
    path: text,
    params: z.record(text, z.union([text, z.array(text)])),
    nowNs: z.string().regex(/^\d+$/),
    identity: z.object({
      subject: text,
      tenants: z.array(text).min(1),
      actorPath: text,
      scopes: z.array(text),
    }),
    headers: z.array(z.tuple([text, text])),
  }),
});
export type JobMessage = z.infer<typeof jobMessage>;

export const encodeJobMessage = (id: string, spec: JobSpec): Uint8Array =>
  new TextEncoder().encode(JSON.stringify({ v: 1, id, spec } satisfies JobMessage));

/** The job a work-queue message carries, or why it carries none (not JSON, not a job of this version). */
export function decodeJobMessage(data: Uint8Array): JobMessage | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch {
    return { problem: `not a JSON job (${data.length} bytes)` };
  }
  const parsed = jobMessage.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  return { problem: `not a job of this version: ${issue.path.join(".") || "(message)"}: ${issue.message}` };
}
