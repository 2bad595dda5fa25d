import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../../../src/config/load.js";
import { TokenVerifier } from "../../../../src/edge/auth/verifier.js";
import { ApiError } from "../../../../src/http/errors.js";
import { type JwksServer, startJwksServer } from "../../../support/jwks-server.js";

describe("token checks", () => {
  let jwks: JwksServer;
  let verifier: TokenVerifier;
  const now = () => Math.floor(Date.now() / 1000);
  const refusal = async (token: string) => {
    const e = await verifier.verify(token).then(
      () => undefined,
      (x: unknown) => x,
    );
    if (!(e instanceof ApiError)) throw new Error(`expected a refusal, got ${String(e)}`);
    expect(e.status).toBe(401);
    return /error_description="([^"]*)"/.exec(e.headers["www-authenticate"] ?? "")?.[1];
  };

  beforeAll(async () => {
    jwks = await startJwksServer();
    const edge = parseConfig({
      edge: {
        issuers: [{ issuer: jwks.issuer, audiences: ["fairgate"], jwks_uri: jwks.url, clock_tolerance: "30s" }],
        jwks: { cooldown: "1m" },
        token_cache_size: 3,
        tenants: { rules: [{ claim: "groups", read: ["$value"] }] },
        actor: { secret: "0123456789abcdef" },
      },
    }).edge!;
    verifier = new TokenVerifier(edge);
  });
  afterAll(() => jwks.close());

  it("accepts iat and nbf within the clock tolerance", async () => {
    const user = await verifier.verify(await jwks.sign({ iat: now() + 20, nbf: now() + 20 }));
    expect(user.subject).toBe("alice");
  });

  it("refuses iat beyond the clock tolerance (jose alone does not check it)", async () => {
    expect(await refusal(await jwks.sign({ iat: now() + 60 }))).toBe("token issued in the future (iat)");
    expect(await refusal(await jwks.sign({ iat: now() + 86_400, exp: now() + 90_000 }))).toBe(
      "token issued in the future (iat)",
    );
  });

  it("refuses nbf beyond the clock tolerance", async () => {
    expect(await refusal(await jwks.sign({ nbf: now() + 60 }))).toBe("token is not yet valid (nbf)");
  });

  it("remembers a refusal for one JWKS cooldown, and only for token_cache_size tokens", async () => {
    // iat 32 s ahead is refused (tolerance 30 s); two seconds later the same claims pass.
    const t0 = now();
    const future = (jti: string) => jwks.sign({ iat: t0 + 32, jti });
    const remembered = await future("remembered");
    const dropped = await future("dropped");
    expect(await refusal(dropped)).toBe("token issued in the future (iat)");
    expect(await refusal(remembered)).toBe("token issued in the future (iat)");
    for (let i = 0; i < 2; i++) await refusal(await jwks.sign({}, { kid: `unknown-${i}` })); // the memory holds 3
    await new Promise((r) => setTimeout(r, (t0 + 2.2) * 1000 - Date.now()));
    expect(await refusal(remembered)).toBe("token issued in the future (iat)");
    expect((await verifier.verify(dropped)).subject).toBe("alice");
    expect((await verifier.verify(await future("never tried"))).subject).toBe("alice");
  });
});
