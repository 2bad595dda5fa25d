import { Hono } from "hono";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

// DEMO ONLY: a local development OIDC issuer, so `npm start` works with no identity provider.
// It signs tokens for anybody who asks. Production configs set demo.enabled: false.

export const DEMO_USERS: Record<string, { groups: string[]; write?: string[]; service?: boolean }> = {
  alice: { groups: ["team-a"] },
  bob: { groups: ["team-b"] },
  carol: { groups: ["team-a", "team-b", "admins"] },
  "svc-ingest": { groups: [], write: ["team-a"], service: true },
};
export const DEMO_AUDIENCE = "fairgate-demo";

export async function demoIssuer(issuer: string): Promise<Hono> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "demo-1", alg: "ES256", use: "sig" };
  const app = new Hono();
  app.get("/.well-known/openid-configuration", (c) =>
    c.json({
      issuer,
      jwks_uri: `${issuer}/jwks`,
      token_endpoint: `${issuer}/token`,
      id_token_signing_alg_values_supported: ["ES256"],
    }),
  );
  app.get("/jwks", (c) => c.json({ keys: [jwk] }));
  app.get("/token", async (c) => {
    const name = c.req.query("user") ?? "alice";
    const user = DEMO_USERS[name];
    if (!user) return c.text(`unknown demo user ${name}; try one of: ${Object.keys(DEMO_USERS).join(", ")}\n`, 404);
    const token = await new SignJWT({
      groups: user.groups,
      write_tenants: user.write ?? [],
      scope: "openid logs:read",
      ...(user.service ? { client_id: name } : {}),
    })
      .setProtectedHeader({ alg: "ES256", kid: jwk.kid, typ: "at+jwt" })
      .setIssuer(issuer)
      .setSubject(name)
      .setAudience(DEMO_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(privateKey);
    return c.text(`${token}\n`);
  });
  return app;
}
