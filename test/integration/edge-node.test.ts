import { decodeProtectedHeader, importJWK, SignJWT } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { identityVerifier } from "../../src/identity/signed-identity.js";
import { run, type Running } from "../../src/node/run.js";
import { buildAttacks, expectAllRefused, type Attack } from "../support/attacks.js";
import { refusedUpgradeStatus, tailRoundTrip } from "../support/tail.js";
import { edgeConfig, IDENTITY_SECRET } from "../support/edge-config.js";
import { startEchoUpstream, type EchoUpstream } from "../support/echo-upstream.js";
import { rawHttp, statusOf } from "../support/net.js";
import { expectBodyLimit, expectCanonicalDecisions, expectRateLimits, RATE_LIMIT } from "../support/route-checks.js";
import { startOidcProvider, type TestIdp } from "../support/oidc-provider.js";

describe("edge on Node, with a real OIDC provider", () => {
  let idp: TestIdp;
  let echo: EchoUpstream;
  let edge: Running;
  let alice: { accessToken: string; idToken: string };
  let bob: { accessToken: string; idToken: string };
  let attacks: Attack[];
  const get = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
    fetch(`${edge.url}${path}`, { headers, ...init });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  beforeAll(async () => {
    idp = await startOidcProvider({ audience: "fairgate" });
    echo = await startEchoUpstream();
    edge = await run(parseConfig(edgeConfig(idp, echo.url)), "edge");
    alice = await idp.userTokens("alice");
    bob = await idp.userTokens("bob");
    attacks = await buildAttacks({
      issuer: idp.issuer,
      audience: "fairgate",
      aliceToken: alice.accessToken,
      bobIdToken: bob.idToken,
      signingJwk: idp.signingJwk(),
      jwks: await (await fetch(idp.jwksUri)).json(),
    });
  });
  afterAll(async () => {
    await edge?.close(100);
    await echo?.close();
    await idp?.close();
  });
  beforeEach(() => echo.reset());

  it("forwards a user's query with the tenant, a hashed actor path and a signed identity", async () => {
    const res = await get("/loki/api/v1/query_range?query=%7Bapp%3D%22api%22%7D&limit=10", {
      ...bearer(alice.accessToken),
      "x-id-token": alice.idToken,
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "x-query-tags": "Source=logvolhist",
    });
    expect(res.status).toBe(200);
    expect(echo.requests).toHaveLength(1);
    const seen = echo.requests[0]!;
    expect(seen.url).toBe("/loki/api/v1/query_range?query=%7Bapp%3D%22api%22%7D&limit=10");
    expect(seen.headers["x-scope-orgid"]).toBe("team-a");
    expect(seen.headers["x-loki-actor-path"]).toMatch(/^users\|[0-9a-f]{32}$/);
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers["x-id-token"]).toBeUndefined();
    expect(seen.headers.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    expect(seen.headers["x-query-tags"]).toBe("Source=logvolhist");
    expect(seen.headers["x-forwarded-for"]).toBe("127.0.0.1");
    const identity = await (await identityVerifier({ secret: IDENTITY_SECRET, ttl: 30_000 }))(
      seen.headers["x-fairgate-identity"] as string,
    );
    expect(identity.tenants).toEqual(["team-a"]);
    expect(identity.actorPath).toBe(seen.headers["x-loki-actor-path"]);
    expect(identity.subject).not.toContain("alice");
  });

  it("gives each user a stable actor path of their own", async () => {
    const again = await idp.userTokens("alice");
    await get("/loki/api/v1/labels", bearer(alice.accessToken));
    await get("/loki/api/v1/labels", bearer(again.accessToken));
    await get("/loki/api/v1/labels", bearer(bob.accessToken));
    const paths = echo.requests.map((r) => r.headers["x-loki-actor-path"]);
    expect(again.accessToken).not.toBe(alice.accessToken);
    expect(paths[0]).toBe(paths[1]);
    expect(paths[2]).not.toBe(paths[0]);
    expect(echo.requests[2]!.headers["x-scope-orgid"]).toBe("team-b");
  });

  it("puts client-credentials tokens under services| and lets them write", async () => {
    const svc = await idp.clientCredentialsToken({ clientId: "svc-ingest" });
    const res = await get(
      "/loki/api/v1/push",
      { ...bearer(svc), "content-type": "application/json" },
      { method: "POST", body: '{"streams":[]}' },
    );
    expect(res.status).toBe(200);
    const seen = echo.requests[0]!;
    expect(seen.url).toBe("/distributor/loki/api/v1/push");
    expect(seen.body).toBe('{"streams":[]}');
    expect(seen.headers["x-loki-actor-path"]).toMatch(/^services\|[0-9a-f]{32}$/);
  });

  it("streams a Prometheus POST form body, as Grafana sends it", async () => {
    const form = "query=sum(rate(x%5B5m%5D))&start=1700000000&end=1700003600&step=60";
    const res = await get(
      "/api/v1/query_range",
      { ...bearer(alice.accessToken), "content-type": "application/x-www-form-urlencoded" },
      { method: "POST", body: form },
    );
    expect(res.status).toBe(200);
    expect(echo.requests[0]!.body).toBe(form);
    expect(echo.requests[0]!.method).toBe("POST");
  });

  it("allows a federated query only for users whose policy says so", async () => {
    const carol = await idp.userTokens("carol");
    const ok = await get("/loki/api/v1/labels", { ...bearer(carol.accessToken), "x-scope-orgid": "team-b|team-a" });
    expect(ok.status).toBe(200);
    expect(echo.requests[0]!.headers["x-scope-orgid"]).toBe("team-a|team-b");
  });

  it("replaces spoofed actor path and identity headers, and strips Grafana's unverified ones", async () => {
    const res = await get("/loki/api/v1/labels", {
      ...bearer(alice.accessToken),
      "x-loki-actor-path": "users|victim",
      "x-fairgate-identity": "forged",
      "x-prom-label-policy": "team-a:%7Bapp%3D%22x%22%7D",
      "x-grafana-user": "admin",
      "x-grafana-id": "eyJ.forged.jwt",
      cookie: "grafana_session=abc",
    });
    expect(res.status).toBe(200);
    const h = echo.requests[0]!.headers;
    expect(h["x-loki-actor-path"]).not.toBe("users|victim");
    expect(h["x-fairgate-identity"]).not.toBe("forged");
    for (const name of ["x-prom-label-policy", "x-grafana-user", "x-grafana-id", "cookie"])
      expect(h[name], name).toBeUndefined();
  });

  it("refuses every attack in the matrix, and nothing reaches the upstream", async () => {
    await expectAllRefused(edge.url, attacks, echo, expect);
  });

  it("decides every mangled path as its canonical form, and forwards only canonical paths", async () => {
    await expectCanonicalDecisions(edge.url, bearer(alice.accessToken), echo, expect, 150);
  });

  it("answers 413 to a push over its limit while the body is still coming, and the upstream gets no more", async () => {
    const svc = await idp.clientCredentialsToken({ clientId: "svc-ingest" });
    const push = { path: "/loki/api/v1/push", headers: { ...bearer(svc), "content-type": "application/json" } };
    await expectBodyLimit(edge.url, push, 64 * 1024, echo, expect);
  });

  it("sends an enabled route group to its own URL, for a token with the group's scope", async () => {
    const jwk = idp.signingJwk();
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ client_id: "svc-ingest", scope: "logs:read logs:delete" })
      .setProtectedHeader({ alg: jwk.alg ?? "RS256", kid: jwk.kid, typ: "at+jwt" })
      .setIssuer(idp.issuer)
      .setAudience("fairgate")
      .setSubject("svc-ingest")
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(await importJWK(jwk, jwk.alg ?? "RS256"));
    const res = await get("/loki/api/v1/%64elete?query=%7Bapp%3D%22api%22%7D&start=1", bearer(token), {
      method: "POST",
    });
    expect(res.status).toBe(200);
    expect(echo.requests[0]!.url).toBe("/compactor/loki/api/v1/delete?query=%7Bapp%3D%22api%22%7D&start=1");
    expect(echo.requests[0]!.headers["x-scope-orgid"]).toBe("team-a");
  });

  it("refuses CRLF tricks in raw requests without forwarding them", async () => {
    const host = new URL(edge.url).host;
    const bareCr = await rawHttp(
      edge.url,
      `GET /loki/api/v1/labels HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ` +
        `${alice.accessToken}\r\nX-Query-Tags: a\rX-Scope-OrgID: team-b\r\nConnection: close\r\n\r\n`,
    );
    expect(statusOf(bareCr)).toBe(400);
    const folded = await rawHttp(
      edge.url,
      `GET /loki/api/v1/labels HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ` +
        `${alice.accessToken}\r\nX-Query-Tags: a\r\n X-Scope-OrgID: team-b\r\nConnection: close\r\n\r\n`,
    );
    expect(statusOf(folded)).toBe(400);
    const injected = await rawHttp(
      edge.url,
      `GET /loki/api/v1/labels HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ` +
        `${alice.accessToken}\r\nX-Query-Tags: a\r\nX-Scope-OrgID: team-b\r\nConnection: close\r\n\r\n`,
    );
    expect(statusOf(injected)).toBe(403);
    expect(echo.requests).toHaveLength(0);
  });

  it("passes the live tail WebSocket through, both ways, and refuses it without a token", async () => {
    const wsUrl = `${edge.url.replace("http", "ws")}/loki/api/v1/tail?query=%7Bapp%3D%22api%22%7D`;
    const messages = await tailRoundTrip(wsUrl, bearer(alice.accessToken));
    expect(messages).toEqual(["hello team-a", "echo:ping"]);
    const up = echo.upgrades[0]!;
    expect(up.url).toBe("/loki/api/v1/tail?query=%7Bapp%3D%22api%22%7D");
    expect(up.headers.authorization).toBeUndefined();
    expect(up.headers["x-loki-actor-path"]).toMatch(/^users\|/);

    echo.reset();
    const refused = await refusedUpgradeStatus(wsUrl, { "x-scope-orgid": "team-a" });
    expect(refused).toBe(401);
    expect(echo.upgrades).toHaveLength(0);
  });

  it("aborts the upstream request when the client disconnects", async () => {
    const ac = new AbortController();
    const pending = get("/loki/api/v1/labels?echo=slow", bearer(alice.accessToken), { signal: ac.signal }).catch(
      (e: Error) => e,
    );
    await expect.poll(() => echo.requests.length).toBe(1);
    ac.abort();
    await pending;
    await expect.poll(() => echo.aborted).toEqual(["/loki/api/v1/labels?echo=slow"]);
  });

  it("answers 504 with advice when the upstream is too slow", async () => {
    const res = await get("/loki/api/v1/labels?echo=slow", bearer(alice.accessToken));
    expect(res.status).toBe(504);
    expect(await res.text()).toContain("smaller time range");
  });

  it("hands a compressed upstream answer back intact", async () => {
    const res = await get("/loki/api/v1/labels?echo=gzip", { ...bearer(alice.accessToken), "accept-encoding": "gzip" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe("success");
  });

  it("picks up a rotated signing key, without hammering the JWKS for unknown kids", async () => {
    await new Promise((r) => setTimeout(r, 1100)); // past the refetch cooldown
    const { kid } = await idp.rotateKeys();
    const fresh = await idp.userTokens("alice");
    expect(decodeProtectedHeader(fresh.accessToken).kid).toBe(kid);
    expect((await get("/loki/api/v1/labels", bearer(fresh.accessToken))).status).toBe(200);

    const before = idp.stats().jwksRequests;
    const unknown = attacks.find((a) => a.name === "unknown kid")!;
    for (let i = 0; i < 20; i++) expect((await get("/loki/api/v1/labels", unknown.headers)).status).toBe(401);
    expect(idp.stats().jwksRequests - before).toBeLessThanOrEqual(1);
  });

  it("answers 503 with Retry-After when the provider is down and no cached key can decide", async () => {
    const token = await idp.userTokens("bob");
    const cold = await run(parseConfig(edgeConfig(idp, echo.url)), "edge");
    try {
      await idp.stop();
      // The running edge still has the keys: it decides.
      expect((await get("/loki/api/v1/labels", bearer(token.accessToken))).status).toBe(200);
      // A fresh edge has none: the user did nothing wrong, so 503, not 401.
      echo.reset();
      const res = await fetch(`${cold.url}/loki/api/v1/labels`, { headers: bearer(token.accessToken) });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(echo.requests).toHaveLength(0);
      expect((await fetch(`${cold.url}/ready`)).status).toBe(503);
    } finally {
      await idp.restart();
      await cold.close(100);
    }
    expect((await get("/ready")).status).toBe(200);
  });
});

describe("edge with a request-rate limit", () => {
  let idp: TestIdp;
  let echo: EchoUpstream;
  let edge: Running;

  beforeAll(async () => {
    idp = await startOidcProvider({ audience: "fairgate" });
    echo = await startEchoUpstream();
    const config = edgeConfig(idp, echo.url);
    edge = await run(parseConfig({ ...config, edge: { ...config.edge, rate_limit: RATE_LIMIT } }), "edge");
  });
  afterAll(async () => {
    await edge?.close(100);
    await echo?.close();
    await idp?.close();
  });

  it("answers 429 with Retry-After per actor, then per tenant, in each API's error format", async () => {
    await expectRateLimits(edge.url, idp, echo, expect);
  });
});

describe("frontend alone", () => {
  let idp: TestIdp;
  let querier: EchoUpstream;
  let frontend: Running;
  let edge: Running;

  beforeAll(async () => {
    idp = await startOidcProvider({ audience: "fairgate" });
    querier = await startEchoUpstream();
    frontend = await run(
      parseConfig({
        server: { listen: "127.0.0.1:0" },
        log: { level: "warn" },
        frontend: { queriers: [{ url: querier.url }] },
        identity: { secret: IDENTITY_SECRET },
      }),
      "frontend",
    );
    edge = await run(parseConfig(edgeConfig(idp, frontend.url)), "edge");
  });
  afterAll(async () => {
    await edge?.close(100);
    await frontend?.close(100);
    await querier?.close();
    await idp?.close();
  });

  it("refuses a hand-written X-Scope-OrgID and a forged identity", async () => {
    const direct = await fetch(`${frontend.url}/loki/api/v1/labels`, {
      headers: { "x-scope-orgid": "team-a", "x-loki-actor-path": "users|me" },
    });
    expect(direct.status).toBe(401);
    const forged = await fetch(`${frontend.url}/loki/api/v1/labels`, {
      headers: { "x-fairgate-identity": "eyJhbGciOiJIUzI1NiJ9.e30.x" },
    });
    expect(forged.status).toBe(401);
    expect(querier.requests).toHaveLength(0);
  });

  it("applies the route policy at its own door, before any identity", async () => {
    const direct = (path: string, init: RequestInit = {}) => fetch(`${frontend.url}${path}`, init);
    expect((await direct("/loki/api/v1/%2E%2E%2Fpush")).status).toBe(400);
    expect((await direct("/loki/api/v1/push", { method: "POST", body: "{}" })).status).toBe(404);
    expect((await direct("/api/v1/admin/tsdb/snapshot", { method: "POST" })).status).toBe(404);
    const big = await direct("/api/v1/query", { method: "POST", body: "x".repeat(2 << 20) });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ status: "error", errorType: "too_large" });
    expect(querier.requests).toHaveLength(0);
  });

  it("serves queries that come through the edge, with the tenant the edge decided", async () => {
    const { accessToken } = await idp.userTokens("bob");
    const res = await fetch(`${edge.url}/loki/api/v1/labels`, {
      headers: { authorization: `Bearer ${accessToken}`, "x-scope-orgid": "team-b" },
    });
    expect(res.status).toBe(200);
    expect(querier.requests[0]!.headers["x-scope-orgid"]).toBe("team-b");
    expect(querier.requests[0]!.headers["x-fairgate-identity"]).toBeUndefined();
  });
});

describe("edge and frontend in one process", () => {
  let idp: TestIdp;
  let querier: EchoUpstream;
  let both: Running;

  beforeAll(async () => {
    idp = await startOidcProvider({ audience: "fairgate" });
    querier = await startEchoUpstream();
    const config = edgeConfig(idp, querier.url);
    const { read_url: _, ...upstream } = config.edge.upstream;
    both = await run(
      parseConfig({ ...config, edge: { ...config.edge, upstream }, frontend: { queriers: [{ url: querier.url }] } }),
      "all",
    );
  });
  afterAll(async () => {
    await both?.close(100);
    await querier?.close();
    await idp?.close();
  });

  it("hands the frontend the canonical path, and cuts a read body at its limit", async () => {
    const { accessToken } = await idp.userTokens("alice");
    const res = await fetch(`${both.url}/loki/api/v1/%6cabels`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(res.status).toBe(200);
    expect(querier.requests.map((r) => new URL(r.url, "http://q").pathname)).toEqual(["/loki/api/v1/labels"]);

    querier.reset();
    const read = {
      path: "/api/v1/query",
      headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/x-www-form-urlencoded" },
    };
    await expectBodyLimit(both.url, read, 64 * 1024, querier, expect);
  });
});
