import type { Context, Hono } from "hono";
import type { FrontendConfig } from "../../config/schema.js";
import { ApiError } from "../../http/errors.js";
import { one, parsed } from "../api/params.js";
import { parseStepMs } from "../api/time.js";
import type { FrontendEnv } from "../require-identity.js";
import type { Params } from "../types.js";
import type { Answer, AsyncJobs, JobRecord } from "./jobs.js";
import type { JobSpec } from "./record.js";

/** Whether a query asks to run asynchronously: `async=true`, on query and query_range only. */
export const wantsAsync = (params: Params, route: string): boolean =>
  one(params, "async") === "true" && (route === "query_range" || route === "query");

/**
 * Starts an asynchronous query. Answers 202 with the job's id and where to poll it, or the answer
 * itself when the job finishes within the client's `wait` (at most `max_wait`).
 */
export async function submitAsync(
  c: Context<FrontendEnv>,
  jobs: AsyncJobs,
  opts: FrontendConfig["async"],
  params: Params,
  spec: JobSpec,
): Promise<Response> {
  const waitMs = Math.min(
    parsed(params, "wait", parseStepMs, "duration", () => 0),
    opts.max_wait,
  );
  const record = await jobs.submit(c.get("identity"), spec);
  if (waitMs > 0 && (await jobs.endsWithin(record.id, waitMs))) {
    const ended = await jobs.status(record.id, c.get("identity"));
    const answer = ended && (await jobs.answer(ended));
    if (answer) return answerResponse(answer);
  }
  return c.json({ status: "success", data: { id: record.id, state: record.state } }, 202, {
    location: `/fairgate/api/v1/async/${record.id}`,
  });
}

/** Polling, fetching and cancelling asynchronous queries; another identity's job is reported as unknown. */
export function asyncRoutes(app: Hono<FrontendEnv>, jobs: AsyncJobs): void {
  app.get("/fairgate/api/v1/async/:id/status", async (c) => {
    const r = await jobs.status(c.req.param("id"), c.get("identity"));
    if (!r) throw unknownJob(c.req.param("id"));
    return c.json(statusOf(r));
  });
  app.get("/fairgate/api/v1/async/:id", async (c) => {
    const r = await jobs.status(c.req.param("id"), c.get("identity"));
    if (!r) throw unknownJob(c.req.param("id"));
    if (r.state === "queued" || r.state === "running") return c.body(null, 204);
    const answer = await jobs.answer(r);
    if (!answer) throw unknownJob(r.id);
    return answerResponse(answer);
  });
  app.delete("/fairgate/api/v1/async/:id", async (c) => {
    if (!(await jobs.cancel(c.req.param("id"), c.get("identity")))) throw unknownJob(c.req.param("id"));
    return c.body(null, 204);
  });
}

const unknownJob = (id: string) =>
  new ApiError("not_found", `no asynchronous query ${id.slice(0, 64)} (unknown, expired or cancelled)`);

const answerResponse = (a: Answer) =>
  new Response(a.body as BodyInit, { status: a.status, headers: { "content-type": a.contentType } });

const iso = (ms?: number) => (ms === undefined ? undefined : new Date(ms).toISOString());

const statusOf = (r: JobRecord) => ({
  state: r.state,
  progress: r.progress,
  submittedAt: iso(r.submittedAt),
  startedAt: iso(r.startedAt),
  finishedAt: iso(r.finishedAt),
  expiresAt: iso(r.expiresAt),
  ...(r.error ? { error: r.error } : {}),
});
