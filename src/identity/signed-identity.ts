import { importJWK, jwtVerify, SignJWT, type JWTPayload } from "jose";
import type { SignedIdentityConfig, UserLimits } from "../config/schema.js";

/** The only thing the edge hands the frontend. */
export interface Identity {
  /** Keyed hash of issuer and subject: never the raw identity. */
  subject: string;
  tenants: string[];
  actorPath: string;
  scopes: string[];
  /** The user's query limits, from the tenant rules that matched the token's claims (none: the tenants' alone). */
  limits?: UserLimits;
  /**
   * Who the actor path stands for, only when the operator turned the actor directory on (status.actor_directory):
   * for the admin listener's status page, never sent to a querier.
   */
  who?: ActorName;
}

/** The subject or client id behind an actor path, and the configured claim's value (such as an email). */
export interface ActorName {
  id: string;
  claim?: string;
}

/** Header carrying the signed identity when edge and frontend run apart. Clients' copies are stripped. */
export const IDENTITY_HEADER = "x-fairgate-identity";
const ISSUER = "fairgate-edge";
const AUDIENCE = "fairgate-frontend";

type Key = CryptoKey | Uint8Array;

interface KeyMaterial {
  alg: "HS256" | "ES256";
  key: Key;
}

/**
 * An HS256 key from a shared secret, imported once: handing jose raw bytes would re-import the key on every
 * request.
 */
export const hmacKey = (secret: string, use: "sign" | "verify"): Promise<CryptoKey> =>
  crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [use]);

async function keyFor(cfg: SignedIdentityConfig, use: "sign" | "verify"): Promise<KeyMaterial> {
  if (cfg.secret) return { alg: "HS256", key: await hmacKey(cfg.secret, use) };
  const jwk = use === "sign" ? cfg.private_jwk : (cfg.public_jwk ?? cfg.private_jwk);
  if (!jwk)
    throw new Error(`identity: ${use === "sign" ? "private_jwk" : "public_jwk"} is required to ${use} identities`);
  const parsed = JSON.parse(jwk) as Record<string, unknown>;
  if (use === "verify") delete parsed.d; // a frontend given the private key still only verifies
  return { alg: "ES256", key: (await importJWK(parsed, "ES256")) as CryptoKey };
}

export async function identitySigner(cfg: SignedIdentityConfig): Promise<(id: Identity) => Promise<string>> {
  const { alg, key } = await keyFor(cfg, "sign");
  const ttlSeconds = Math.max(1, Math.floor(cfg.ttl / 1000));
  // A signed identity is reused for half its lifetime, so a busy user costs one signature per
  // ttl/2 instead of one per request; the frontend still sees at least ttl/2 of validity.
  const reuse = new Map<string, { jws: string; until: number }>();
  // The same Identity object (the edge keeps one per user and tenants) is found without building its key.
  const reuseSame = new WeakMap<Identity, { jws: string; until: number }>();
  const sign = (id: Identity) =>
    new SignJWT({
      ten: id.tenants,
      act: id.actorPath,
      scp: id.scopes,
      ...(id.limits ? { lim: id.limits } : {}),
      ...(id.who ? { who: id.who } : {}),
    })
      .setProtectedHeader({ alg })
      .setSubject(id.subject)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(key);
  return async (id) => {
    const now = Date.now();
    const same = reuseSame.get(id);
    if (same && same.until > now) return same.jws;
    const k = JSON.stringify([id.subject, id.tenants, id.actorPath, id.scopes, id.limits ?? null, id.who ?? null]);
    let hit = reuse.get(k);
    if (!hit || hit.until <= now) {
      hit = { jws: await sign(id), until: now + (ttlSeconds * 1000) / 2 };
      if (reuse.size >= 10_000) reuse.clear();
      reuse.set(k, hit);
    }
    reuseSame.set(id, hit);
    return hit.jws;
  };
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");

/** Returns the identity, or throws (jose errors, or Error for a malformed payload). */
export async function identityVerifier(cfg: SignedIdentityConfig): Promise<(jws: string) => Promise<Identity>> {
  const { alg, key } = await keyFor(cfg, "verify");
  return async (jws) => {
    type Payload = JWTPayload & { ten?: unknown; act?: unknown; scp?: unknown; lim?: unknown; who?: unknown };
    const { payload } = await jwtVerify<Payload>(jws, key, {
      algorithms: [alg],
      issuer: ISSUER,
      audience: AUDIENCE,
      maxTokenAge: "60s",
      requiredClaims: ["exp", "iat", "sub"],
    });
    if (
      !isStringArray(payload.ten) ||
      payload.ten.length === 0 ||
      typeof payload.act !== "string" ||
      !isStringArray(payload.scp) ||
      (payload.lim !== undefined && (typeof payload.lim !== "object" || payload.lim === null))
    )
      throw new Error("identity payload is malformed");
    const identity: Identity = {
      subject: payload.sub!,
      tenants: payload.ten,
      actorPath: payload.act,
      scopes: payload.scp,
    };
    // Signed by the edge from its own configuration: taken as it is.
    if (payload.lim !== undefined) identity.limits = payload.lim as UserLimits;
    const who = actorName(payload.who);
    if (who) identity.who = who;
    return identity;
  };
}

/** A signed `who` as the edge wrote it; anything else is left out (the name is for display only). */
function actorName(v: unknown): ActorName | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const { id, claim } = v as Record<string, unknown>;
  if (typeof id !== "string") return undefined;
  return typeof claim === "string" ? { id, claim } : { id };
}
