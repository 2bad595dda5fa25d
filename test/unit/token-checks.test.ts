import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { TokenVerifier } from "../../src/edge/auth/verifier.js";
import { ApiError } from "../../src/http/errors.js";
import { type JwksServer, startJwksServer } from "../support/jwks-server.js";

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

  it("refuses a token it refused before from memory, without asking the provider, and stays bounded", async () => {
    const before = jwks.fetches();
    const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => jwks.sign({}, { kid: `unknown-${i}` })));
    const errorOf = (t: string) => verifier.verify(t).catch((e: unknown) => e);
    const first = [];
    for (const t of tokens) first.push(await errorOf(t));
    expect(await refusal(tokens[9]!)).toBe("token signing key (kid) is unknown");
    expect(await errorOf(tokens[9]!)).toBe(first[9]); // remembered
    expect(await errorOf(tokens[0]!)).not.toBe(first[0]); // dropped: the memory holds token_cache_size (3)
    expect(jwks.fetches() - before).toBeLessThanOrEqual(1);
  });
});
