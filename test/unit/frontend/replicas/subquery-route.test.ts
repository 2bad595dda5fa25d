import { afterEach, describe, expect, it, vi } from "vitest";
import { configSchema } from "../../../../src/config/schema.js";
import { decodeAnswer, decodeCall, encodeAnswer, encodeCall } from "../../../../src/frontend/replicas/envelope.js";
import { REPLICA_AUTH_HEADER, replicaSigner, replicaVerifier } from "../../../../src/frontend/replicas/replica-auth.js";
import { DRAINING_HEADER, SUBQUERY_PATH, subqueryRoute } from "../../../../src/frontend/replicas/subquery-route.js";
import {
  emptyCacheStats,
  type QueryRequest,
  type QueryResponse,
  type QueryStats,
} from "../../../../src/frontend/types.js";
import { ApiError } from "../../../../src/http/errors.js";

const SECRET = "s".repeat(24);
const identity = { subject: "h", tenants: ["a", "b"], actorPath: "users|alice", scopes: ["read"] };
const request: QueryRequest = {
  api: "prometheus",
  kind: "metric",
  path: "/api/v1/query_range",
  params: { query: "up", extra: ["1", "2"] },
  query: "up",
  startNs: 1_700_000_000_123_456_789n,
  endNs: 18_446_744_073_709_551_615n, // beyond 2^53: must not pass through a number
  stepMs: 60_000,
};
const stats = (): QueryStats => ({ splits: 0, queueWaitMs: 1, querierMs: 2, retries: 0, cache: emptyCacheStats() });

describe("sub-query envelopes", () => {
  it("a call round-trips: bigints exact, headers, identity, remaining time", () => {
    const headers = new Headers({ traceparent: "00-abc-def-01", "x-query-tags": "source=grafana" });
    const call = decodeCall(encodeCall(request, identity, headers, 1234));
    expect(call.req).toEqual(request);
    expect(call.identity).toEqual(identity);
    expect([...call.headers]).toEqual([...headers]);
    expect(call.remainingMs).toBe(1234);
  });

  it("an answer round-trips raw bytes (not UTF-8) and JSON, and adds the owner's costs to the caller's stats", () => {
    const raw: QueryResponse = {
      status: 502,
      contentType: "application/octet-stream",
      raw: new Uint8Array([0, 255, 128]),
    };
    const json: QueryResponse = {
      status: 200,
      contentType: "application/json",
      json: { data: [1] },
      cacheControl: "no-store",
    };
    const owner = { ...stats(), queueWaitMs: 40, querierMs: 7, retries: 1 };
    const mine = stats();
    expect(decodeAnswer(encodeAnswer(raw, owner), mine)).toEqual(raw);
    expect(decodeAnswer(encodeAnswer(json, owner), mine)).toEqual(json);
    expect(mine).toMatchObject({ queueWaitMs: 81, querierMs: 16, retries: 2 });
  });

  it("an error the owner ended in is thrown again on the caller, with its kind and headers", () => {
    const err = new ApiError("too_many_requests", "too many outstanding requests", { "retry-after": "5" });
    const thrown = (() => {
      try {
        decodeAnswer(encodeAnswer(err, stats()), stats());
      } catch (e) {
        return e;
      }
    })() as ApiError;
    expect(thrown).toBeInstanceOf(ApiError);
    expect([thrown.status, thrown.message, thrown.headers]).toEqual([429, err.message, err.headers]);
  });

  it("a body that is not a call is a 400, not a crash", () => {
    expect(() => decodeCall("{")).toThrow(/not a sub-query call/);
    expect(() => decodeCall(JSON.stringify({ request: { api: "loki" } }))).toThrow(/not a sub-query call/);
  });
});

describe("the internal sub-query route", () => {
  afterEach(() => vi.useRealTimers());
  const ran: QueryRequest[] = [];
  let draining = false;
  const config = configSchema.parse({ frontend: { queriers: [{ url: "http://127.0.0.1:1" }] } }).frontend!;
  const route = subqueryRoute({
    live: () => config,
    verify: async (token, body) => (await replicaVerifier(SECRET, "owner"))(token, body),
    run: async (req) => {
      ran.push(req);
      return { status: 200, contentType: "application/json", json: { status: "success" } };
    },
    draining: () => draining,
    maxBodyBytes: 1 << 20,
  });
  const body = encodeCall(request, identity, new Headers(), 5000);
  const post = (token: string | undefined, sent = body) =>
    route.request(SUBQUERY_PATH, {
      method: "POST",
      body: sent,
      headers: token === undefined ? {} : { [REPLICA_AUTH_HEADER]: token },
    });
  const refusal = async (res: Response) => [res.status, ((await res.json()) as { error: string }).error];

  it("runs a signed call and answers an envelope", async () => {
    const res = await post(await (await replicaSigner(SECRET))("owner", body));
    expect(res.status).toBe(200);
    expect(decodeAnswer(await res.text(), stats())).toMatchObject({ status: 200, json: { status: "success" } });
    expect(ran.at(-1)).toEqual(request);
  });

  it("refuses with 401 and says why: no token, another secret, expired, another body, another replica", async () => {
    const before = ran.length;
    const sign = await replicaSigner(SECRET);
    expect(await refusal(await post(undefined))).toEqual([
      401,
      expect.stringMatching(/x-fairgate-replica-auth is missing/),
    ]);
    const forged = await (await replicaSigner("x".repeat(24)))("owner", body);
    expect(await refusal(await post(forged))).toEqual([401, expect.stringMatching(/invalid.*membership\.secret/)]);
    expect(await refusal(await post("not.a.jws"))).toEqual([401, expect.stringMatching(/invalid/)]);
    const other = await sign("owner", body.replace("alice", "mallory"));
    expect(await refusal(await post(other))).toEqual([401, expect.stringMatching(/body does not match its token/)]);
    expect(await refusal(await post(await sign("someone-else", body)))).toEqual([
      401,
      expect.stringMatching(/for another replica, not owner/),
    ]);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() - 60_000 });
    const old = await sign("owner", body);
    vi.useRealTimers();
    expect(await refusal(await post(old))).toEqual([401, expect.stringMatching(/expired/)]);
    expect(ran.length).toBe(before);
  });

  it("while draining, answers a signed call 503 with the draining marker (and runs nothing)", async () => {
    draining = true;
    try {
      const before = ran.length;
      const res = await post(await (await replicaSigner(SECRET))("owner", body));
      expect(res.status).toBe(503);
      expect(res.headers.get(DRAINING_HEADER)).toBe("1");
      expect(ran.length).toBe(before);
    } finally {
      draining = false;
    }
  });
});

describe("frontend.membership config", () => {
  const parse = (membership: Record<string, unknown>) =>
    configSchema.safeParse({ frontend: { queriers: [{ url: "http://127.0.0.1:1" }], membership } });
  const ok = { nats: { servers: ["nats://127.0.0.1:4222"] }, advertise_url: "http://10.0.0.5:8080", secret: SECRET };

  it("takes defaults for heartbeat and timeout", () => {
    const m = parse(ok);
    expect(m.success).toBe(true);
    expect(m.data?.frontend?.membership).toMatchObject({ heartbeat: 1000, timeout: 3000 });
  });

  it("refuses a short secret, a timeout of two heartbeats or less, a missing advertise_url", () => {
    expect(JSON.stringify(parse({ ...ok, secret: "short" }).error?.issues)).toMatch(/at least 16 characters/);
    expect(JSON.stringify(parse({ ...ok, timeout: "2s" }).error?.issues)).toMatch(/more than 2 heartbeats/);
    expect(JSON.stringify(parse({ ...ok, advertise_url: undefined }).error?.issues)).toMatch(/advertise_url/);
  });
});
