import { createServer } from "node:http";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { listenOnLoopback } from "../../test/support/loopback.js";

export const BENCH_AUDIENCE = "fairgate-bench";

export interface BenchIssuer {
  issuer: string;
  /** A bearer token for a user in group team-a, valid for an hour. */
  token: string;
  /** The signing key's public half, PEM (SPKI): what HAProxy's jwt_verify reads. */
  publicKeyPem: string;
  /** `count` more tokens like `token`, each one new (its own jti): a verification cache never knows them. */
  mint(count: number): Promise<string[]>;
  /** How often the edge fetched discovery or the JWKS: should stay at 1 each, or the bench measures the IdP. */
  hits: { discovery: number; jwks: number };
  close(): Promise<void>;
}

/** A minimal OIDC issuer on loopback: discovery and JWKS only, one signing key. */
export async function startIssuer(alg: "ES256" | "RS256" = "ES256"): Promise<BenchIssuer> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid: "bench-1", alg, use: "sig" };
  const hits = { discovery: 0, jwks: 0 };
  let issuer = "";

  const server = createServer((req, res) => {
    const json = (body: unknown) =>
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (req.url === "/.well-known/openid-configuration") {
      hits.discovery++;
      return json({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: [alg] });
    }
    if (req.url === "/jwks") {
      hits.jwks++;
      return json({ keys: [jwk] });
    }
    res.writeHead(404).end();
  });
  const listening = await listenOnLoopback(server);
  issuer = listening.url;

  const sign = (jti?: string) => {
    const claims = { groups: ["team-a"], scope: "openid logs:read", ...(jti ? { jti } : {}) };
    return new SignJWT(claims)
      .setProtectedHeader({ alg, kid: jwk.kid, typ: "at+jwt" })
      .setIssuer(issuer)
      .setSubject("bench-user")
      .setAudience(BENCH_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(privateKey);
  };
  const token = await sign();

  return {
    issuer,
    token,
    publicKeyPem: await exportSPKI(publicKey),
    mint: async (count) => {
      const tokens: string[] = [];
      for (let i = 0; i < count; i++) tokens.push(await sign(`cold-${i}`));
      return tokens;
    },
    hits,
    close: listening.close,
  };
}
