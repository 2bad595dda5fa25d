import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnServer, type Server } from "./servers.js";

export interface HaproxyJwt {
  upstream: string;
  issuer: string;
  audience: string;
  alg: "ES256" | "RS256";
  publicKeyPem: string;
}

/**
 * The edge's job done by HAProxy (2.5+: jwt_verify): verify the bearer token's signature on every request (HAProxy
 * keeps no verification cache), check alg, iss, aud and exp, strip what a client could spoof, and set the tenant
 * (the first group), a hashed actor path and X-Forwarded-*. One thread: the match for one Node process.
 */
export function haproxyConfig(o: HaproxyJwt, port: number, keyFile: string): string {
  const upstream = new URL(o.upstream).host;
  return `
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend edge
  bind 127.0.0.1:${port}
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')
  http-request set-var(txn.iss) var(txn.bearer),jwt_payload_query('$.iss')
  http-request set-var(txn.aud) var(txn.bearer),jwt_payload_query('$.aud')
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')
  http-request set-var(txn.now) date()
  http-request deny deny_status 401 unless { var(txn.alg) -m str ${o.alg} }
  http-request deny deny_status 401 unless { var(txn.iss) -m str ${o.issuer} }
  http-request deny deny_status 401 unless { var(txn.aud) -m str ${o.audience} }
  http-request deny deny_status 401 unless { var(txn.exp),sub(txn.now) -m int gt 0 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"${keyFile}") -m int 1 }
  http-request set-var(txn.sub) var(txn.bearer),jwt_payload_query('$.sub')
  http-request set-var(txn.tenant) var(txn.bearer),jwt_payload_query('$.groups[0]')
  http-request del-header authorization
  http-request del-header cookie
  http-request del-header x-id-token
  http-request del-header x-scope-orgid
  http-request del-header x-loki-actor-path
  http-request set-header x-scope-orgid %[var(txn.tenant)]
  http-request set-header x-loki-actor-path users|%[var(txn.sub),sha2(256),hex]
  http-request set-header x-forwarded-proto http
  option forwardfor
  default_backend upstream
backend upstream
  http-reuse always
  server upstream ${upstream}
`;
}

/** HAProxy in the foreground as our child, with the config above (kept beside its key in a temp dir). */
export async function startHaproxy(haproxy: string, o: HaproxyJwt): Promise<Server & { config: string }> {
  const dir = mkdtempSync(join(tmpdir(), "fairgate-bench-haproxy-"));
  const port = await freePort();
  const keyFile = join(dir, "issuer.pem");
  writeFileSync(keyFile, o.publicKeyPem);
  const config = haproxyConfig(o, port, keyFile);
  writeFileSync(join(dir, "haproxy.cfg"), config);
  const server = await spawnServer("haproxy", haproxy, ["-db", "-f", join(dir, "haproxy.cfg")], port, () =>
    rmSync(dir, { recursive: true, force: true }),
  );
  return { ...server, config };
}
