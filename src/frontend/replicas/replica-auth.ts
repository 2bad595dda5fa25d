import { createHash } from "node:crypto";
import { errors, jwtVerify, SignJWT } from "jose";
import { ApiError } from "../../http/errors.js";
import { REPLICA_AUTH_HEADER } from "../../http/forward.js";
import { hmacKey } from "../../identity/signed-identity.js";

// The edge strips clients' copies of the header, and only the internal route reads it.
export { REPLICA_AUTH_HEADER };
const ISSUER = "fairgate-replica";
/** Short: a call is signed just before it is sent. */
const TTL_SECONDS = 10;

const bodyHash = (body: string) => createHash("sha256").update(body).digest("base64url");

/**
 * Signs a call to replica `audience` (HS256 with membership.secret), bound to the hash of its body: a token seen
 * once is no use for another body, another replica, or after a few seconds.
 */
export async function replicaSigner(secret: string): Promise<(audience: string, body: string) => Promise<string>> {
  const key = await hmacKey(secret, "sign");
  return (audience, body) =>
    new SignJWT({ bh: bodyHash(body) })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(`${TTL_SECONDS}s`)
      .sign(key);
}

const REFUSED = "the internal sub-query route takes only calls signed by another fairgate replica";

/** Checks a call to replica `self`: throws 401 ApiErrors that say what is wrong (never the secret). */
export async function replicaVerifier(
  secret: string,
  self: string,
): Promise<(token: string | null | undefined, body: string) => Promise<void>> {
  const key = await hmacKey(secret, "verify");
  return async (token, body) => {
    if (!token) throw new ApiError("unauthorized", `${REFUSED}: ${REPLICA_AUTH_HEADER} is missing`);
    let bh: unknown;
    try {
      ({
        payload: { bh },
      } = await jwtVerify(token, key, { algorithms: ["HS256"], issuer: ISSUER, audience: self }));
    } catch (e) {
      const why =
        e instanceof errors.JWTExpired
          ? "its token has expired"
          : e instanceof errors.JWTClaimValidationFailed && e.claim === "aud"
            ? `its token is for another replica, not ${self}`
            : "its token is invalid (is membership.secret the same on every replica?)";
      throw new ApiError("unauthorized", `${REFUSED}: ${why}`);
    }
    if (bh !== bodyHash(body)) throw new ApiError("unauthorized", `${REFUSED}: the body does not match its token`);
  };
}
