import { ApiError, type ErrorKind } from "../../http/errors.js";
import type { Identity } from "../../identity/signed-identity.js";
import { addProcessed, type QueryRequest, type QueryResponse, type QueryStats } from "../types.js";

/**
 * What a replica sends a tenant's owner: one sub-query, who asks, the headers for the querier, and how long
 * the asking query may still run. JSON: bigints as decimal strings.
 */
export interface SubqueryCall {
  request: Omit<QueryRequest, "startNs" | "endNs"> & { startNs: string; endNs: string };
  identity: Identity;
  forwardHeaders: [string, string][];
  remainingMs: number;
}

/** What the owner answers: the querier's response or the error it ended in, and what it cost there. */
export interface SubqueryAnswer {
  response?: Omit<QueryResponse, "raw"> & { raw?: string };
  error?: { kind: ErrorKind; message: string; headers: Record<string, string> };
  stats: Pick<QueryStats, "queueWaitMs" | "querierMs" | "retries" | "processed">;
}

export function encodeCall(req: QueryRequest, identity: Identity, headers: Headers, remainingMs: number): string {
  const call: SubqueryCall = {
    request: { ...req, startNs: String(req.startNs), endNs: String(req.endNs) },
    identity,
    forwardHeaders: [...headers],
    remainingMs,
  };
  return JSON.stringify(call);
}

/** The call as the owner runs it; throws bad_data for a body that is not one. */
export function decodeCall(body: string): {
  req: QueryRequest;
  identity: Identity;
  headers: Headers;
  remainingMs: number;
} {
  try {
    const call = JSON.parse(body) as SubqueryCall;
    const { request, identity } = call;
    if (typeof request?.api !== "string" || !Array.isArray(identity?.tenants) || !Number.isFinite(call.remainingMs))
      throw new Error("missing request, identity or remainingMs");
    return {
      req: { ...request, startNs: BigInt(request.startNs), endNs: BigInt(request.endNs) },
      identity,
      headers: new Headers(call.forwardHeaders),
      remainingMs: call.remainingMs,
    };
  } catch (e) {
    throw new ApiError("bad_data", `not a sub-query call: ${(e as Error).message}`);
  }
}

export function encodeAnswer(outcome: QueryResponse | ApiError, stats: QueryStats): string {
  const answer: SubqueryAnswer = {
    stats: {
      queueWaitMs: stats.queueWaitMs,
      querierMs: stats.querierMs,
      retries: stats.retries,
      processed: stats.processed,
    },
  };
  if (outcome instanceof ApiError)
    answer.error = { kind: outcome.kind, message: outcome.message, headers: outcome.headers };
  else {
    const { raw, ...rest } = outcome;
    answer.response = { ...rest, ...(raw ? { raw: Buffer.from(raw).toString("base64") } : {}) };
  }
  return JSON.stringify(answer);
}

/** The owner's answer as the caller uses it: adds the owner's costs to `stats`; an error is thrown again. */
export function decodeAnswer(body: string, stats: QueryStats): QueryResponse {
  const answer = JSON.parse(body) as SubqueryAnswer;
  stats.queueWaitMs += answer.stats.queueWaitMs;
  stats.querierMs += answer.stats.querierMs;
  stats.retries += answer.stats.retries;
  addProcessed(stats, answer.stats.processed);
  if (answer.error) throw new ApiError(answer.error.kind, answer.error.message, answer.error.headers);
  const { raw, ...rest } = answer.response!;
  return { ...rest, ...(raw !== undefined ? { raw: new Uint8Array(Buffer.from(raw, "base64")) } : {}) };
}
