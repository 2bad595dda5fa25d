import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { run, type Running } from "../../src/node/run.js";
import { buildAttacks, expectAllRefused, type Attack } from "../support/attacks.js";
import { refusedUpgradeStatus, tailRoundTrip } from "../support/tail.js";
import { edgeConfig, IDENTITY_SECRET } from "../support/edge-config.js";
import { startEchoUpstream, type EchoUpstream } from "../support/echo-upstream.js";
import { startOidcProvider, type TestIdp } from "../support/oidc-provider.js";
import { startWorker, type WorkerdHandle } from "../support/workerd.js";
import { expectBodyLimit, expectCanonicalDecisions, expectRateLimits, RATE_LIMIT } from "../support/route-checks.js";

// The edge in the real Workers runtime (workerd via wrangler dev, local), in front of the
// frontend on Node: the deployment where identity crosses the network as a signed header.
describe("edge on Workers (workerd), frontend on Node", () => {
  let idp: TestIdp;
  let querier: EchoUpstream;
  let frontend: Running;
  let worker: WorkerdHandle;
  let alice: { accessToken: string; idToken: string };
  let attacks: Attack[];
  const get = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
    fetch(`${worker.url}${path}`, { headers, ...init });

  beforeAll(async () => {
    idp = await startOidcProvider({ audience: "fairgate" });
    querier = await startEchoUpstream();
    frontend = await run(
      parseConfig({
        server: { listen: "127.0.0.1:0" },
        log: { level: "warn" },
        frontend: { queriers: [{ url: querier.url }], tail_url: querier.url },
        identity: { secret: IDENTITY_SECRET },
      }),
      "frontend",
    );
    const config = edgeConfig(idp, frontend.url);
    // Pushes go straight to the recording upstream, so a test can see how much of a body reached it.
    config.edge.upstream.write_url = `${querier.url}/distributor`;
    worker = await startWorker({
      vars: {
        FAIRGATE_CONFIG: JSON.stringify({ edge: config.edge, identity: config.identity, routes: config.routes }),
      },
    });
    alice = await idp.userTokens("alice");
    attacks = await buildAttacks({
      issuer: idp.issuer,
      audience: "fairgate",
      aliceToken: alice.accessToken,
      bobIdToken: (await idp.userTokens("bob")).idToken,
      signingJwk: idp.signingJwk(),
      jwks: await (await fetch(idp.jwksUri)).json(),
    });
  }, 120_000);
  afterAll(async () => {
    await worker?.close();
    await frontend?.close(100);
    await querier?.close();
    await idp?.close();
  });
  beforeEach(() => querier.reset());

  it("admits a real token and the frontend serves it with the tenant the edge decided", async () => {
    const res = await get("/loki/api/v1/format_query?query=%7Bapp%3D%22api%22%7D", {
      authorization: `Bearer ${alice.accessToken}`,
      "x-id-token": alice.idToken,
      "x-query-tags": "Source=logsample",
    });
    expect(res.status, worker.logs()).toBe(200);
    const seen = querier.requests[0]!;
    expect(seen.url).toBe("/loki/api/v1/format_query?query=%7Bapp%3D%22api%22%7D");
    expect(seen.headers["x-scope-orgid"]).toBe("team-a");
    expect(seen.headers["x-loki-actor-path"]).toMatch(/^users\|[0-9a-f]{32}$/);
    expect(seen.headers["x-query-tags"]).toBe("Source=logsample");
    expect(seen.headers.authorization).toBeUndefined();
  });

  it("computes the same actor path as the edge on Node", async () => {
    const node = await run(parseConfig(edgeConfig(idp, frontend.url)), "edge");
    try {
      await get("/loki/api/v1/labels", { authorization: `Bearer ${alice.accessToken}` });
      await fetch(`${node.url}/loki/api/v1/labels`, { headers: { authorization: `Bearer ${alice.accessToken}` } });
      expect(querier.requests).toHaveLength(2);
      expect(querier.requests[0]!.headers["x-loki-actor-path"]).toBe(querier.requests[1]!.headers["x-loki-actor-path"]);
    } finally {
      await node.close(100);
    }
  });

  it("streams a POST form body through", async () => {
    const form = "query=up&time=1700000000";
    const res = await get(
      "/api/v1/query",
      { authorization: `Bearer ${alice.accessToken}`, "content-type": "application/x-www-form-urlencoded" },
      { method: "POST", body: form },
    );
    expect(res.status).toBe(200);
    expect(querier.requests[0]!.body).toBe(form);
  });

  it("refuses every attack in the matrix, and nothing reaches the queriers", async () => {
    await expectAllRefused(worker.url, attacks, querier, expect);
  });

  it("decides every mangled path as its canonical form, and forwards only canonical paths", async () => {
    await expectCanonicalDecisions(worker.url, { authorization: `Bearer ${alice.accessToken}` }, querier, expect, 100);
  });

  it("replaces a spoofed actor path", async () => {
    const res = await get("/loki/api/v1/labels", {
      authorization: `Bearer ${alice.accessToken}`,
      "x-loki-actor-path": "users|victim",
      "x-grafana-user": "admin",
    });
    expect(res.status).toBe(200);
    expect(querier.requests[0]!.headers["x-loki-actor-path"]).not.toBe("users|victim");
    expect(querier.requests[0]!.headers["x-grafana-user"]).toBeUndefined();
  });

  it("passes the live tail WebSocket through the Worker and the frontend, and refuses it without a token", async () => {
    const wsUrl = `${worker.url.replace("http", "ws")}/loki/api/v1/tail?query=%7Bapp%3D%22api%22%7D`;
    const messages = await tailRoundTrip(wsUrl, { authorization: `Bearer ${alice.accessToken}` });
    expect(messages).toEqual(["hello team-a", "echo:ping"]);

    const refused = await refusedUpgradeStatus(wsUrl);
    expect(refused).toBe(401);
  });

  // Last: wrangler dev's proxy in front of workerd takes a request whose body the Worker cut off for a Worker restart,
  // and holds every later request back waiting for a reload that never comes.
  it("answers 413 to a push over its limit, and the upstream gets no more", async () => {
    const svc = await idp.clientCredentialsToken({ clientId: "svc-ingest" });
    const push = {
      path: "/loki/api/v1/push",
      headers: { authorization: `Bearer ${svc}`, "content-type": "application/json" },
    };
    await expectBodyLimit(worker.url, push, 64 * 1024, querier, expect, false);
  });
});

describe("edge on Workers (workerd) with a request-rate limit", () => {
  let idp: TestIdp;
  let upstream: EchoUpstream;
  let worker: WorkerdHandle;

  beforeAll(async () => {
    idp = await startOidcProvider({ audience: "fairgate" });
    upstream = await startEchoUpstream();
    const config = edgeConfig(idp, upstream.url);
    const edge = { ...config.edge, rate_limit: RATE_LIMIT };
    worker = await startWorker({ vars: { FAIRGATE_CONFIG: JSON.stringify({ edge, identity: config.identity }) } });
  }, 120_000);
  afterAll(async () => {
    await worker?.close();
    await upstream?.close();
    await idp?.close();
  });

  it("answers 429 with Retry-After per actor, then per tenant, in each API's error format", async () => {
    await expectRateLimits(worker.url, idp, upstream, expect);
  });
});
