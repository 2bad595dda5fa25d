import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOidcProvider, type TestIdp } from "../support/oidc-provider.js";

/** Self-test of the test IdP: real oidc-provider, tokens checked the way a resource server would. */
describe("test OIDC provider", () => {
  let idp: TestIdp;
  let jwksUri: string;
  const remoteKeys = () => createRemoteJWKSet(new URL(jwksUri));

  beforeAll(async () => {
    idp = await startOidcProvider({ audience: "fairgate" });
  });
  afterAll(async () => {
    await idp?.close();
  });

  it("serves discovery with its issuer and JWKS, and counts the requests", async () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const before = idp.stats();
    const discovery = (await (await fetch(idp.discoveryUrl)).json()) as Record<string, unknown>;
    expect(discovery.issuer).toBe(idp.issuer);
    expect(discovery.jwks_uri).toBe(idp.jwksUri);
    expect(discovery.token_endpoint).toBe(idp.tokenEndpoint);
    jwksUri = discovery.jwks_uri as string;

    const jwks = (await (await fetch(jwksUri)).json()) as { keys: { kid?: string; d?: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(idp.kids());
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
    expect(idp.stats().discoveryRequests - before.discoveryRequests).toBe(1);
    expect(idp.stats().jwksRequests - before.jwksRequests).toBe(1);
  });

  it("issues client-credentials JWTs whose sub and client_id are the client", async () => {
    const token = await idp.clientCredentialsToken({ scope: "logs:write" });
    const { payload, protectedHeader } = await jwtVerify(token, remoteKeys(), {
      issuer: idp.issuer,
      audience: "fairgate",
      typ: "at+jwt",
    });
    expect(protectedHeader.kid).toBe(idp.kids()[0]);
    expect(protectedHeader.alg).toBe("RS256");
    expect(payload.sub).toBe("svc-ingest");
    expect(payload.client_id).toBe("svc-ingest");
    expect(payload.scope).toBe("logs:write");
    expect(payload.groups).toBeUndefined();
    expect(payload.exp! - payload.iat!).toBe(300);
  });

  it("issues tokens for another resource with that resource as audience", async () => {
    const token = await idp.clientCredentialsToken({ resource: "https://elsewhere.test/" });
    const { payload } = await jwtVerify(token, remoteKeys(), {
      issuer: idp.issuer,
      audience: "https://elsewhere.test/",
    });
    expect(payload.sub).toBe("svc-ingest");
  });

  it("refuses a client-credentials request with a wrong secret", async () => {
    const res = await fetch(idp.tokenEndpoint, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from("svc-ingest:nope").toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    expect(res.status).toBe(401);
  });

  it("runs the authorization code + PKCE flow for a user, with groups and tenants in both tokens", async () => {
    const { accessToken, idToken } = await idp.userTokens("alice");
    const keys = remoteKeys();
    const at = await jwtVerify(accessToken, keys, { issuer: idp.issuer, audience: "fairgate", typ: "at+jwt" });
    expect(at.protectedHeader.kid).toBe(idp.kids()[0]);
    expect(at.payload).toMatchObject({ sub: "alice", client_id: "grafana", groups: ["team-a"], tenants: ["team-a"] });
    expect(at.payload.scope).toBe("logs:read logs:write metrics:read metrics:write");

    const id = await jwtVerify(idToken, keys, { issuer: idp.issuer, audience: "grafana" });
    expect(id.protectedHeader.kid).toBe(idp.kids()[0]);
    expect(id.payload).toMatchObject({ sub: "alice", groups: ["team-a"], tenants: ["team-a"] });
    expect(typeof id.payload.nonce).toBe("string");

    const carol = await idp.userTokens("carol");
    const c = await jwtVerify(carol.accessToken, keys, { issuer: idp.issuer, audience: "fairgate" });
    expect(c.payload).toMatchObject({
      sub: "carol",
      groups: ["team-a", "team-b", "admins"],
      tenants: ["team-a", "team-b"],
    });
  });

  it("refuses to log in an unknown account", async () => {
    await expect(idp.userTokens("mallory")).rejects.toThrow(/access_denied/);
  });

  it("rotates keys: new tokens carry the new kid and verify through a fresh remote JWKS", async () => {
    const old = await idp.userTokens("bob");
    const oldKid = decodeProtectedHeader(old.accessToken).kid;
    const { kid } = await idp.rotateKeys();
    expect(kid).not.toBe(oldKid);
    expect(idp.kids()).toEqual([kid, oldKid]);

    const fresh = await idp.userTokens("bob");
    expect(decodeProtectedHeader(fresh.accessToken).kid).toBe(kid);
    expect(decodeProtectedHeader(fresh.idToken).kid).toBe(kid);
    const svc = await idp.clientCredentialsToken();
    expect(decodeProtectedHeader(svc).kid).toBe(kid);

    const keys = remoteKeys();
    await jwtVerify(fresh.accessToken, keys, { issuer: idp.issuer, audience: "fairgate" });
    await jwtVerify(fresh.idToken, keys, { issuer: idp.issuer, audience: "grafana" });
    await jwtVerify(svc, keys, { issuer: idp.issuer, audience: "fairgate" });
    // The old key is still served, so tokens issued before the rotation still verify.
    await jwtVerify(old.accessToken, keys, { issuer: idp.issuer, audience: "fairgate" });

    const { kid: third } = await idp.rotateKeys({ dropOld: true });
    expect(idp.kids()).toEqual([third]);
    const jwks = (await (await fetch(jwksUri)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([third]);
    const after = remoteKeys();
    await expect(jwtVerify(old.accessToken, after, { issuer: idp.issuer, audience: "fairgate" })).rejects.toMatchObject(
      { code: "ERR_JWKS_NO_MATCHING_KEY" },
    );
    const newest = await idp.clientCredentialsToken();
    expect((await jwtVerify(newest, after, { issuer: idp.issuer, audience: "fairgate" })).protectedHeader.kid).toBe(
      third,
    );
    expect(idp.signingJwk()).toMatchObject({ kid: third, alg: "RS256", kty: "RSA" });
    expect(idp.signingJwk().d).toBeDefined();
  });

  it("stops and restarts on the same port and issuer", async () => {
    // A pooled keep-alive connection must not make the first request after restart() fail.
    expect((await fetch(idp.jwksUri)).status).toBe(200);
    await idp.stop();
    await idp.restart();
    expect((await fetch(idp.jwksUri)).status).toBe(200);

    await idp.stop();
    await expect(fetch(idp.discoveryUrl)).rejects.toThrow();
    await expect(idp.clientCredentialsToken()).rejects.toThrow();
    await idp.stop(); // idempotent
    await idp.restart();
    await idp.restart(); // idempotent
    const discovery = (await (await fetch(idp.discoveryUrl)).json()) as { issuer: string };
    expect(discovery.issuer).toBe(idp.issuer);
    const { accessToken } = await idp.userTokens("alice");
    await jwtVerify(accessToken, remoteKeys(), { issuer: idp.issuer, audience: "fairgate" });
  });

  it("takes accounts, services, audience and resource from its options", async () => {
    const other = await startOidcProvider({
      audience: "loki-gw",
      resource: "https://gw.test",
      accounts: { dave: { groups: ["ops"], tenants: ["t1", "t2"] } },
      services: { "svc-ruler": { tenants: ["t1"] } },
      alg: "ES256",
    });
    try {
      const keys = createRemoteJWKSet(new URL(other.jwksUri));
      const user = await other.userTokens("dave");
      const at = await jwtVerify(user.accessToken, keys, { issuer: other.issuer, audience: "loki-gw" });
      expect(at.protectedHeader.alg).toBe("ES256");
      expect(at.payload).toMatchObject({ sub: "dave", groups: ["ops"], tenants: ["t1", "t2"] });
      const id = await jwtVerify(user.idToken, keys, { issuer: other.issuer, audience: "grafana" });
      expect(id.payload).toMatchObject({ sub: "dave", groups: ["ops"], tenants: ["t1", "t2"] });
      const svc = await jwtVerify(await other.clientCredentialsToken(), keys, {
        issuer: other.issuer,
        audience: "loki-gw",
      });
      expect(svc.payload).toMatchObject({ sub: "svc-ruler", client_id: "svc-ruler", tenants: ["t1"] });
      await expect(other.userTokens("alice")).rejects.toThrow();
    } finally {
      await other.close();
    }
    await expect(fetch(other.discoveryUrl)).rejects.toThrow();
  });
});
