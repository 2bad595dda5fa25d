import { exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from "jose";

/** What the attacks need from the identity provider under test. */
export interface AttackKit {
  issuer: string;
  audience: string;
  /** A real token for alice (reads team-a), issued through the provider's own flow. */
  aliceToken: string;
  /** A real ID token for bob, to pair with alice's access token. */
  bobIdToken: string;
  /** The provider's current private signing key (to forge well-signed tokens with bad claims). */
  signingJwk: JWK & { kid: string; alg?: string };
  /** The provider's public JWKS as served. */
  jwks: { keys: JWK[] };
}

export interface Attack {
  name: string;
  method?: string;
  path?: string;
  headers: Record<string, string>;
  status: number;
  /** A check of the WWW-Authenticate header (401s). */
  challenge?: RegExp;
  /** A fragment of the body the user reads. */
  says?: string;
}

const b64url = (s: string) => Buffer.from(s).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

/** The edge must refuse every one of these, and nothing may reach the upstream. */
export async function buildAttacks(kit: AttackKit): Promise<Attack[]> {
  const key = await importJWK(kit.signingJwk, kit.signingJwk.alg ?? "RS256");
  const alg = kit.signingJwk.alg ?? "RS256";
  const good: JWTPayload = {
    iss: kit.issuer,
    aud: kit.audience,
    sub: "alice",
    groups: ["team-a"],
    iat: now(),
    exp: now() + 600,
  };
  const mint = (claims: JWTPayload, header: Record<string, unknown> = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg, kid: kit.signingJwk.kid, typ: "at+jwt", ...header }).sign(key);
  const without = (k: keyof JWTPayload) => Object.fromEntries(Object.entries(good).filter(([n]) => n !== k));

  const attacker = await generateKeyPair("RS256", { extractable: true });
  const attackerMint = (kid: string) =>
    new SignJWT(good).setProtectedHeader({ alg: "RS256", kid }).sign(attacker.privateKey);

  // Algorithm confusion: HS256 keyed with the provider's public key (as PEM and as the JWK's n).
  const publicPem = await exportSPKI(
    (await importJWK(
      { ...kit.signingJwk, d: undefined, p: undefined, q: undefined, dp: undefined, dq: undefined, qi: undefined },
      alg,
      { extractable: true },
    )) as CryptoKey,
  );
  const hs256 = await new SignJWT(good)
    .setProtectedHeader({ alg: "HS256", kid: kit.signingJwk.kid })
    .sign(new TextEncoder().encode(publicPem));
  const [h, p, s] = kit.aliceToken.split(".");
  const payload = JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>;
  const widened = { ...payload, groups: ["team-a", "team-b"], tenants: ["team-b"] };
  const tampered = `${h}.${b64url(JSON.stringify(widened))}.${s}`;
  const unsigned = `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${b64url(JSON.stringify(good))}.`;

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const invalid = /^Bearer realm="fairgate", error="invalid_token", error_description="[^"]+"$/;
  return [
    { name: "no token", headers: {}, status: 401, challenge: /^Bearer realm="fairgate"$/ },
    { name: "Basic credentials", headers: { authorization: "Basic YWxpY2U6c2VjcmV0" }, status: 401 },
    {
      name: "token in the query string",
      path: `/loki/api/v1/labels?access_token=${kit.aliceToken}`,
      headers: {},
      status: 401,
    },
    { name: "garbage token", headers: bearer("abc.def.ghi"), status: 401, challenge: invalid, says: "malformed" },
    { name: "not a JWT", headers: bearer("opaque-token-123"), status: 401, challenge: invalid },
    { name: "oversized token", headers: bearer(`${h}.${"A".repeat(10_000)}.${s}`), status: 401, says: "larger than" },
    {
      name: "expired",
      headers: bearer(await mint({ ...good, iat: now() - 7200, exp: now() - 3600 })),
      status: 401,
      challenge: /error_description="token expired"/,
    },
    {
      name: "nbf in the future",
      headers: bearer(await mint({ ...good, nbf: now() + 3600 })),
      status: 401,
      says: "not yet valid",
    },
    {
      name: "wrong iss",
      headers: bearer(await mint({ ...good, iss: "https://evil.example.com" })),
      status: 401,
      says: "issuer is not trusted",
    },
    {
      name: "wrong aud",
      headers: bearer(await mint({ ...good, aud: "some-other-api" })),
      status: 401,
      says: "audience",
    },
    { name: "alg none", headers: bearer(unsigned), status: 401, challenge: invalid },
    { name: "HS256 signed with the public key", headers: bearer(hs256), status: 401, says: "algorithm" },
    { name: "unknown kid", headers: bearer(await attackerMint("attacker-kid")), status: 401, says: "kid" },
    {
      name: "known kid, attacker's key",
      headers: bearer(await attackerMint(kit.signingJwk.kid)),
      status: 401,
      says: "signature",
    },
    { name: "tampered payload", headers: bearer(tampered), status: 401, says: "signature" },
    { name: "missing sub", headers: bearer(await mint(without("sub"))), status: 401, says: "sub" },
    { name: "missing exp", headers: bearer(await mint(without("exp"))), status: 401, says: "exp" },
    {
      name: "two Authorization headers",
      headers: { authorization: `Bearer ${kit.aliceToken}, Bearer ${kit.aliceToken}` },
      status: 401,
    },
    {
      name: "ID token of another subject",
      headers: { ...bearer(kit.aliceToken), "x-id-token": kit.bobIdToken },
      status: 401,
      says: "another subject",
    },
    {
      name: "spoofed X-Scope-OrgID",
      headers: { ...bearer(kit.aliceToken), "x-scope-orgid": "team-b" },
      status: 403,
      says: "team-b",
    },
    {
      name: "spoofed federation",
      headers: { ...bearer(kit.aliceToken), "x-scope-orgid": "team-a|team-b" },
      status: 403,
    },
    {
      name: "tenant with path characters",
      headers: { ...bearer(kit.aliceToken), "x-scope-orgid": "../team-b" },
      status: 400,
    },
    {
      name: "tenant with an empty segment",
      headers: { ...bearer(kit.aliceToken), "x-scope-orgid": "team-a|" },
      status: 400,
    },
    {
      name: "write with a read-only token",
      method: "POST",
      path: "/loki/api/v1/push",
      headers: bearer(kit.aliceToken),
      status: 403,
    },
    { name: "unknown route", path: "/admin/config", headers: bearer(kit.aliceToken), status: 404 },
    { name: "dot segments", path: "/loki/api/v1/%2e%2e/%2e%2e/config", headers: bearer(kit.aliceToken), status: 404 },
  ];
}

/** Sends each attack to the gateway and checks the answer, and that nothing reached the upstream. */
export async function expectAllRefused(
  baseUrl: string,
  attacks: Attack[],
  upstream: { requests: unknown[]; reset(): void },
  expect: typeof import("vitest").expect,
): Promise<void> {
  expect(attacks.length).toBeGreaterThanOrEqual(20);
  for (const a of attacks) {
    upstream.reset();
    const res = await fetch(`${baseUrl}${a.path ?? "/loki/api/v1/labels"}`, {
      method: a.method ?? "GET",
      headers: a.headers,
      body: a.method === "POST" ? "{}" : undefined,
    });
    const body = await res.text();
    expect(res.status, `${a.name}: ${body}`).toBe(a.status);
    if (a.challenge) expect(res.headers.get("www-authenticate"), a.name).toMatch(a.challenge);
    if (a.says) expect(body, a.name).toContain(a.says);
    expect(upstream.requests, a.name).toHaveLength(0);
  }
}
