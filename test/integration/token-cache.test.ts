import { importJWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { TokenVerifier } from "../../src/edge/auth/verifier.js";
import { ApiError } from "../../src/http/errors.js";
import { startOidcProvider, type TestIdp } from "../support/oidc-provider.js";

describe("verified-token cache", () => {
  let idp: TestIdp;
  let verifier: TokenVerifier;
  const mint = async (expInSeconds: number, sub = "alice") => {
    const jwk = idp.signingJwk();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ groups: ["team-a"] })
      .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid })
      .setIssuer(idp.issuer)
      .setAudience("fairgate")
      .setSubject(sub)
      .setIssuedAt(now)
      .setExpirationTime(now + expInSeconds)
      .sign(await importJWK(jwk, jwk.alg));
  };

  beforeAll(async () => {
    idp = await startOidcProvider({ audience: "fairgate" });
    const edge = parseConfig({
      edge: {
        issuers: [{ issuer: idp.issuer, audiences: ["fairgate"], clock_tolerance: 0 }],
        token_cache_size: 2,
        tenants: { rules: [{ claim: "groups", read: ["$value"] }] },
        actor: { secret: "0123456789abcdef" },
        upstream: { read_url: "http://127.0.0.1:9" },
      },
    }).edge!;
    verifier = new TokenVerifier(edge);
  });
  afterAll(async () => idp?.close());

  it("never serves a cached verification past the token's exp", async () => {
    const token = await mint(2);
    const first = await verifier.verify(token);
    expect(first.subject).toBe("alice");
    expect(await verifier.verify(token)).toBe(first); // the same cached object
    await new Promise((r) => setTimeout(r, 2100));
    const e = await verifier.verify(token).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).headers["www-authenticate"]).toContain('error_description="token expired"');
  });

  it("stays bounded: the least recently used verification is dropped", async () => {
    const [a, b, c] = await Promise.all([mint(60, "a"), mint(60, "b"), mint(60, "c")]);
    const va = await verifier.verify(a);
    await verifier.verify(b);
    await verifier.verify(c); // the cache holds 2: a is dropped
    expect(await verifier.verify(a)).not.toBe(va);
    expect((await verifier.verify(a)).subject).toBe("a");
  });
});
