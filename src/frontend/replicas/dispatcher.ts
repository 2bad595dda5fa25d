import { ApiError } from "../../http/errors.js";
import type { Handler, QueryContext, QueryRequest, QueryResponse } from "../types.js";
import { decodeAnswer, encodeCall } from "./envelope.js";
import type { Member, Membership } from "./membership.js";
import { REPLICA_AUTH_HEADER } from "./replica-auth.js";
import { ownerOf } from "./owner.js";
import { DRAINING_HEADER, SUBQUERY_PATH } from "./subquery-route.js";

export interface DispatcherDeps {
  membership: Pick<Membership, "self" | "live" | "member" | "waitFor" | "onChanged" | "config">;
  /** Runs a sub-query here (the querier pool): for the tenants this replica owns. */
  local: Handler;
  sign: (audience: string, body: string) => Promise<string>;
  log: (line: string) => void;
  fetch?: typeof fetch;
}

/** The owner could not take the call (gone, or draining): the sub-query goes to the next owner. */
class OwnerAway extends Error {}

/**
 * The pipeline's last stage with several replicas: a sub-query runs on its tenant's owner. Its own tenants'
 * sub-queries go to this replica's querier pool; the others are sent to their owner over HTTP, and what the owner
 * spent (queue wait, querier time, retries) is added to this query's stats. When the owner cannot be reached or
 * says it is draining, the sub-query waits until the membership has moved the tenant (or for one membership
 * timeout, when the owner stays listed), then goes to whoever owns it then: a client sees latency, not an error.
 */
export function ownerDispatcher(deps: DispatcherDeps): Handler & { tenants(): Map<string, string> } {
  const fetcher = deps.fetch ?? fetch;
  const { membership } = deps;
  const self = membership.self.id;
  const seen = new Set<string>();
  const reported = new Set<string>();
  const dispatch = async (req: QueryRequest, ctx: QueryContext): Promise<QueryResponse> => {
    const tenant = ctx.identity.tenants.join("|");
    if (seen.size < 1000) seen.add(tenant);
    for (;;) {
      const live = membership.live().map((m) => m.id);
      const owner = ownerOf(tenant, live) ?? self;
      const member = membership.member(owner);
      if (owner === self || !member) return deps.local(req, ctx);
      try {
        const answer = await call(member, req, ctx);
        reported.delete(owner);
        return answer;
      } catch (e) {
        if (!(e instanceof OwnerAway) || ctx.signal.aborted) throw ctx.signal.aborted ? ctx.signal.reason : e;
        if (!reported.has(owner)) {
          reported.add(owner);
          deps.log(
            `cluster: replica ${owner} (${member.url}) ${e.message}; its tenants' sub-queries wait for it to leave`,
          );
        }
        ctx.stats.retries++;
        const { timeout } = membership.config;
        const wait = Math.max(0, Math.min(timeout, ctx.deadline - Date.now()));
        await membership.waitFor(() => !membership.live().some((m) => m.id === owner), wait, ctx.signal);
        if (ctx.signal.aborted) throw ctx.signal.reason;
      }
    }
  };

  async function call(owner: Member, req: QueryRequest, ctx: QueryContext): Promise<QueryResponse> {
    const body = encodeCall(req, ctx.identity, ctx.forwardHeaders, Math.max(1, ctx.deadline - Date.now()));
    const headers = { "content-type": "application/json", [REPLICA_AUTH_HEADER]: await deps.sign(owner.id, body) };
    // An owner that stops answering without closing the connection (hung, or its host gone) is given up
    // when the membership drops it, as one that closed it.
    const left = new AbortController();
    const stop = membership.onChanged((live) => {
      if (!live.some((m) => m.id === owner.id)) left.abort(new OwnerAway("left the membership mid-call"));
    });
    const signal = AbortSignal.any([ctx.signal, left.signal]);
    let res: Response;
    let text: string;
    try {
      res = await fetcher(new URL(SUBQUERY_PATH, owner.url), { method: "POST", headers, body, signal });
      text = await res.text();
    } catch (e) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (left.signal.aborted) throw left.signal.reason;
      const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new OwnerAway(`is unreachable (${cause})`);
    } finally {
      stop();
    }
    if (res.status === 503 && res.headers.has(DRAINING_HEADER)) throw new OwnerAway("is draining");
    if (res.status !== 200)
      throw new ApiError(
        "bad_gateway",
        `replica ${owner.id} refused a sub-query (${res.status}): ${text.slice(0, 300)}`,
      );
    return decodeAnswer(text, ctx.stats);
  }

  /** Tenants this replica has seen, with their owner now (for the status data). */
  const tenants = () => {
    const live = membership.live().map((m) => m.id);
    return new Map([...seen].sort().map((t) => [t, ownerOf(t, live) ?? self]));
  };
  return Object.assign(dispatch, { tenants });
}
