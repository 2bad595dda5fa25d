import { describe, expect, it } from "vitest";
import { ownerDispatcher } from "../../../../src/frontend/replicas/dispatcher.js";
import { decodeCall, encodeAnswer } from "../../../../src/frontend/replicas/envelope.js";
import type { Member } from "../../../../src/frontend/replicas/membership.js";
import { ownerOf } from "../../../../src/frontend/replicas/owner.js";
import { DRAINING_HEADER } from "../../../../src/frontend/replicas/subquery-route.js";
import { emptyCacheStats, type QueryContext, type QueryRequest } from "../../../../src/frontend/types.js";

const request: QueryRequest = {
  api: "prometheus",
  kind: "instant",
  path: "/api/v1/query",
  params: {},
  startNs: 1n,
  endNs: 2n,
};
const ok = { status: 200, contentType: "application/json", json: { status: "success" } };

/** A membership of `ids` that this test changes by hand; `self` is "me". */
function fakeMembership(ids: string[]) {
  let live = ids;
  const listeners = new Set<(l: Member[]) => void>();
  const member = (id: string): Member => ({ id, url: `http://${id}.test`, started: 0 });
  const m = {
    self: member("me"),
    config: { timeout: 5_000 } as never,
    live: () => live.map(member),
    member: (id: string) => (live.includes(id) ? member(id) : undefined),
    onChanged: (l: (l: Member[]) => void) => {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    waitFor: (okNow: () => boolean, _ms: number, _signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        if (okNow()) return resolve();
        const stop = m.onChanged(() => {
          if (okNow()) {
            stop();
            resolve();
          }
        });
      }),
    set(next: string[]) {
      live = next;
      for (const l of [...listeners]) l(m.live());
    },
  };
  return m;
}

/** A tenant whose owner among `ids` is `owner`. */
const tenantOwnedBy = (owner: string, ids: string[]) => {
  for (let i = 0; ; i++) if (ownerOf(`t${i}`, ids) === owner) return `t${i}`;
};

const context = (tenant: string): QueryContext => ({
  identity: { subject: "s", tenants: [tenant], actorPath: "users|a", scopes: [] },
  forwardHeaders: new Headers({ traceparent: "x" }),
  signal: new AbortController().signal,
  deadline: Date.now() + 60_000,
  limits: {} as never,
  stats: { splits: 0, queueWaitMs: 0, querierMs: 0, retries: 0, cache: emptyCacheStats() },
});

function setup(fetcher: typeof fetch) {
  const membership = fakeMembership(["me", "other"]);
  const local: string[] = [];
  const dispatch = ownerDispatcher({
    membership,
    local: async (_req, ctx) => {
      local.push(ctx.identity.tenants[0]!);
      return ok;
    },
    sign: async (audience, body) => `${audience}:${body.length}`,
    log: () => {},
    fetch: fetcher,
  });
  return { membership, local, dispatch };
}

describe("the owner dispatcher (several replicas)", () => {
  it("runs its own tenants here; the others go to their owner, signed, and bring back their costs", async () => {
    const calls: { url: string; auth: string | null; tenant: string }[] = [];
    const { local, dispatch } = setup(async (input, init) => {
      const body = String(init?.body);
      calls.push({
        url: String(input),
        auth: new Headers(init?.headers).get("x-fairgate-replica-auth"),
        tenant: decodeCall(body).identity.tenants[0]!,
      });
      const stats = { ...context("x").stats, queueWaitMs: 30, querierMs: 12 };
      return new Response(encodeAnswer(ok, stats), { status: 200 });
    });
    const mine = tenantOwnedBy("me", ["me", "other"]);
    const theirs = tenantOwnedBy("other", ["me", "other"]);
    expect(await dispatch(request, context(mine))).toEqual(ok);
    expect(local).toEqual([mine]);
    const ctx = context(theirs);
    expect(await dispatch(request, ctx)).toEqual(ok);
    expect(calls).toEqual([
      {
        url: "http://other.test/fairgate/internal/v1/subquery",
        auth: expect.stringMatching(/^other:\d+$/),
        tenant: theirs,
      },
    ]);
    expect(ctx.stats).toMatchObject({ queueWaitMs: 30, querierMs: 12 });
  });

  it.each([
    ["unreachable", () => Promise.reject(new TypeError("fetch failed"))],
    ["draining", async () => new Response("draining", { status: 503, headers: { [DRAINING_HEADER]: "1" } })],
    // No answer and no reset: given up when the membership drops the owner.
    [
      "silent",
      (_: unknown, init: RequestInit) =>
        new Promise((_, reject) => init.signal!.addEventListener("abort", () => reject(init.signal!.reason))),
    ],
  ])(
    "an owner %s: the sub-query waits for the membership to move the tenant, then runs on the new owner",
    async (_, fail) => {
      const { membership, local, dispatch } = setup(fail as typeof fetch);
      const theirs = tenantOwnedBy("other", ["me", "other"]);
      const answer = dispatch(request, context(theirs));
      await new Promise((r) => setTimeout(r, 20));
      expect(local).toEqual([]); // still waiting: the owner is listed
      membership.set(["me"]);
      expect(await answer).toEqual(ok);
      expect(local).toEqual([theirs]);
    },
  );

  it("an owner that refuses the call (401) is an error, not a failover", async () => {
    const { dispatch, local } = setup(async () => new Response("bad token", { status: 401 }));
    const theirs = tenantOwnedBy("other", ["me", "other"]);
    await expect(dispatch(request, context(theirs))).rejects.toMatchObject({ status: 502, message: /refused.*401/ });
    expect(local).toEqual([]);
  });
});
