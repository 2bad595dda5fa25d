export const IDENTITY_SECRET = "identity-secret-for-tests-0123456789";

/** The edge config the integration tests share, on Node and on Workers. */
export function edgeConfig(idp: { issuer: string }, upstreamUrl: string) {
  return {
    server: { listen: "127.0.0.1:0" },
    log: { level: "warn" as const },
    edge: {
      issuers: [{ issuer: idp.issuer, audiences: ["fairgate"], id_token: { accept: true, audiences: ["grafana"] } }],
      jwks: { cooldown: "1s" },
      max_token_bytes: 8192,
      tenants: {
        rules: [
          { claim: "tenants", read: ["$value"] },
          { claim: "groups", values: ["admins"], federate: true },
          { claim: "client_id", values: ["svc-ingest"], read: ["team-a"], write: ["team-a"] },
        ],
      },
      actor: { secret: "actor-secret-for-tests" },
      upstream: {
        read_url: upstreamUrl,
        write_url: `${upstreamUrl}/distributor`,
        tail_url: upstreamUrl,
        timeout: "3s",
      },
    },
    identity: { secret: IDENTITY_SECRET },
    // Small limits the attack matrix can reach, and one optional group on, behind a scope nobody is granted.
    routes: {
      read: { max_body_bytes: "64KiB" },
      write: { max_body_bytes: "64KiB" },
      delete: { enabled: true, url: `${upstreamUrl}/compactor`, scopes: ["logs:delete"] },
      max_header_bytes: "16KiB",
    },
  };
}

/**
 * An edge alone on a JWKS server the test controls (no discovery): tenants from the token's `tenants` claim,
 * to read and write; reads and writes go to `upstream`.
 */
export function jwksEdgeConfig(jwks: { issuer: string; url: string }, upstream: string) {
  return {
    server: { listen: "127.0.0.1:0" } as Record<string, unknown>,
    log: { level: "warn" as const },
    identity: { secret: IDENTITY_SECRET },
    edge: {
      issuers: [{ issuer: jwks.issuer, jwks_uri: jwks.url, audiences: ["fairgate"] }],
      tenants: { rules: [{ claim: "tenants", read: ["$value"], write: ["$value"] }] },
      actor: { secret: "actor-secret-for-tests" },
      upstream: { read_url: upstream, write_url: upstream },
    },
  };
}
