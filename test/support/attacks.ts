import { rawRequest } from "./net.js";
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
  /** A body to send (POSTs send "{}" otherwise). */
  body?: string;
  /** Sent byte for byte over a socket: fetch would normalise the path before it leaves. */
  raw?: boolean;
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
  const tampered = `${h}.${b64url(JSON.stringify({ ...payload, groups: ["team-a", "team-b"], tenants: ["team-b"] }))}.${s}`;
  const unsigned = `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${b64url(JSON.stringify(good))}.`;

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const invalid = /^Bearer realm="fairgate", error="invalid_token", error_description="[^"]+"$/;
  // RFC 6750 §3.1: no error code without Bearer credentials; invalid_request (400) for a malformed Bearer header.
  const noCode = /^Bearer realm="fairgate"$/;
  const malformed = /^Bearer realm="fairgate", error="invalid_request", error_description="[^"]+"$/;
  const beyondTolerance = now() + 120; // the issuer's clock_tolerance is 30 s
  return [
    { name: "no token", headers: {}, status: 401, challenge: noCode },
    { name: "Basic credentials", headers: { authorization: "Basic YWxpY2U6c2VjcmV0" }, status: 401, challenge: noCode },
    { name: "another scheme", headers: { authorization: `Token ${kit.aliceToken}` }, status: 401, challenge: noCode },
    { name: "Bearer without a token", headers: { authorization: "Bearer" }, status: 400, challenge: malformed },
    {
      name: "Bearer with two tokens",
      headers: { authorization: `Bearer ${kit.aliceToken} ${kit.aliceToken}` },
      status: 400,
      challenge: malformed,
    },
    {
      name: "Bearer with characters outside b64token",
      headers: { authorization: `Bearer ${kit.aliceToken}$` },
      status: 400,
      challenge: malformed,
    },
    {
      name: "Basic and Bearer together",
      headers: { authorization: `Basic YWxpY2U6c2VjcmV0, Bearer ${kit.aliceToken}` },
      status: 400,
      challenge: malformed,
    },
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
      name: "nbf just beyond the clock tolerance",
      headers: bearer(await mint({ ...good, nbf: beyondTolerance })),
      status: 401,
      challenge: /error_description="token is not yet valid \(nbf\)"/,
    },
    {
      name: "iat one day in the future",
      headers: bearer(await mint({ ...good, iat: now() + 86_400, exp: now() + 87_000 })),
      status: 401,
      challenge: /error_description="token issued in the future \(iat\)"/,
    },
    {
      name: "iat just beyond the clock tolerance",
      headers: bearer(await mint({ ...good, iat: beyondTolerance })),
      status: 401,
      says: "issued in the future",
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
      status: 400,
      challenge: malformed,
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
    ...routeAttacks(bearer(kit.aliceToken)),
  ];
}

const insufficientScope = /^Bearer realm="fairgate", error="insufficient_scope", error_description="[^"]+", scope="/;

/**
 * Route policy and limits (issue 12, items 1, 2 and 4), with alice's read-only token. Expects the shared test config:
 * the delete group on with scope logs:delete, rules and admin off, 64 KiB bodies, 16 KiB of headers.
 */
function routeAttacks(alice: Record<string, string>): Attack[] {
  const ambiguous = (name: string, path: string, raw = false): Attack => ({
    name,
    path,
    raw,
    headers: alice,
    status: 400,
    says: raw ? undefined : "ambiguous request path",
  });
  return [
    {
      name: "push spelled %70ush, read token",
      method: "POST",
      path: "/loki/api/v1/%70ush",
      headers: alice,
      status: 403,
    },
    ambiguous("encoded traversal %2E%2E%2F", "/loki/api/v1/%2E%2E%2F%2E%2E%2Fadmin"),
    ambiguous("encoded traversal ..%2f", "/loki/api/v1/..%2f..%2fconfig"),
    ambiguous("double encoding %252e", "/loki/api/v1/%252e%252e/"),
    ambiguous("encoded backslash", "/loki/api/v1%5Clabels"),
    ambiguous("encoded NUL", "/loki/api/v1/labels%00"),
    ambiguous("empty segment", "/loki/api/v1//labels"),
    ambiguous("control character", "/loki/api/v1/la\x01bels".replace("\x01", ""), true),
    { name: "raw dot segments", path: "/loki/api/v1/../../../admin/config", raw: true, headers: alice, status: 404 },
    { name: "unlisted read-looking route", path: "/loki/api/v1/config", headers: alice, status: 404 },
    { name: "path in another case", path: "/LOKI/api/v1/labels", headers: alice, status: 404 },
    {
      name: "Loki delete without the delete scope",
      method: "POST",
      path: "/loki/api/v1/delete?query=%7Bapp%3D%22api%22%7D&start=1",
      headers: alice,
      status: 403,
      challenge: insufficientScope,
      says: "logs:delete",
    },
    {
      name: "Prometheus delete_series",
      method: "POST",
      path: "/api/v1/admin/tsdb/delete_series",
      headers: alice,
      status: 404,
    },
    {
      name: "Mimir TSDB snapshot",
      method: "POST",
      path: "/prometheus/api/v1/admin/tsdb/snapshot",
      headers: alice,
      status: 404,
    },
    { name: "TSDB snapshot by GET", path: "/prometheus/api/v1/admin/tsdb/snapshot", headers: alice, status: 404 },
    { name: "rules, a group that is off", path: "/loki/api/v1/rules", headers: alice, status: 404 },
    {
      name: "read body over the limit",
      method: "POST",
      path: "/api/v1/query_range",
      headers: { ...alice, "content-type": "application/x-www-form-urlencoded" },
      body: `query=${"x".repeat(200_000)}`,
      status: 413,
      says: "limit",
    },
    { name: "headers over the limit", headers: { ...alice, "x-pad": "a".repeat(20_000) }, status: 431 },
    { name: "a 100 KB header", headers: { ...alice, "x-pad": "a".repeat(100_000) }, status: 431 },
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
    const init = {
      method: a.method ?? "GET",
      headers: a.headers,
      body: a.body ?? (a.method === "POST" ? "{}" : undefined),
    };
    const url = `${baseUrl}${a.path ?? "/loki/api/v1/labels"}`;
    const res = a.raw ? await rawRequest(url, init) : await fetch(url, init);
    const body = await res.text();
    expect(res.status, `${a.name}: ${body}`).toBe(a.status);
    if (a.challenge) expect(res.headers.get("www-authenticate"), a.name).toMatch(a.challenge);
    if (a.says) expect(body, a.name).toContain(a.says);
    expect(upstream.requests, a.name).toHaveLength(0);
  }
}
