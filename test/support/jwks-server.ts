import { createServer, type ServerResponse } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";
import { listenOnLoopback } from "./loopback.js";

/**
 * A JWKS endpoint the test controls: it counts fetches, can answer slowly or not at all, and signs
 * tokens with the key it serves. For tests that count what the edge asks of an identity provider.
 */
export interface JwksServer {
  url: string;
  /** An issuer whose keys live here (the edge skips discovery with jwks_uri). */
  issuer: string;
  fetches(): number;
  /** Delay each answer by this much; `"hang"` never answers (until close). */
  answer(mode: { delayMs: number } | "hang" | "down"): void;
  /** Adds a new signing key (served first); returns its kid. */
  rotate(): Promise<string>;
  /** A token signed by the current key, with sane defaults for iss, aud, sub, iat, exp. */
  sign(claims?: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startJwksServer(opts: { issuer?: string; audience?: string } = {}): Promise<JwksServer> {
  const keys: { kid: string; pub: JWK; priv: CryptoKey }[] = [];
  let count = 0;
  let mode: { delayMs: number } | "hang" | "down" = { delayMs: 0 };
  const hanging = new Set<ServerResponse>();

  const rotate = async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const kid = `k${keys.length + 1}-${Math.random().toString(36).slice(2, 8)}`;
    keys.unshift({
      kid,
      pub: { ...(await exportJWK(pair.publicKey)), kid, alg: "ES256", use: "sig" },
      priv: pair.privateKey,
    });
    return kid;
  };
  await rotate();

  const server = createServer((_req, res) => {
    count++;
    if (mode === "down") {
      res.writeHead(500).end("down");
      return;
    }
    if (mode === "hang") {
      hanging.add(res);
      return;
    }
    const body = JSON.stringify({ keys: keys.map((k) => k.pub) });
    setTimeout(() => res.writeHead(200, { "content-type": "application/jwk-set+json" }).end(body), mode.delayMs);
  });
  server.keepAliveTimeout = 1000;
  const listening = await listenOnLoopback(server);
  const url = `${listening.url}/jwks`;
  const issuer = opts.issuer ?? "https://issuer.test";
  const now = () => Math.floor(Date.now() / 1000);

  return {
    url,
    issuer,
    fetches: () => count,
    answer: (m) => {
      mode = m;
    },
    rotate,
    sign: (claims = {}, header = {}) =>
      new SignJWT({
        iss: issuer,
        aud: opts.audience ?? "fairgate",
        sub: "alice",
        iat: now(),
        exp: now() + 600,
        ...claims,
      })
        .setProtectedHeader({ alg: "ES256", kid: keys[0]!.kid, ...header })
        .sign(keys[0]!.priv),
    close: async () => {
      for (const res of hanging) res.destroy();
      await listening.close();
    },
  };
}
