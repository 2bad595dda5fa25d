import { errors } from "jose";
import { ApiError, printable } from "../../http/errors.js";

const REALM = 'Bearer realm="fairgate"';

const challenge = (code: string, description: string) =>
  `${REALM}, error="${code}", error_description="${printable(description)}"`;

/** RFC 6750 §3.1 invalid_token: a Bearer token that is expired, revoked, malformed or otherwise bad (401). */
export function invalidToken(description: string): ApiError {
  return new ApiError("unauthorized", `authentication failed: ${description}`, {
    "www-authenticate": challenge("invalid_token", description),
  });
}

/** RFC 6750 §3.1 invalid_request: the Authorization header itself is malformed (400). */
export function invalidRequest(description: string): ApiError {
  return new ApiError("bad_data", `authentication failed: ${description}`, {
    "www-authenticate": challenge("invalid_request", description),
  });
}

/** RFC 6750 §3.1: a request without Bearer credentials (none, or another scheme) gets no error code. */
export function missingToken(): ApiError {
  return new ApiError("unauthorized", "authentication required: send Authorization: Bearer <token>", {
    "www-authenticate": REALM,
  });
}

/** The identity provider could not be asked and nothing cached could decide: the user did nothing wrong. */
export class IdpUnavailable extends Error {
  constructor(
    readonly issuer: string,
    cause: unknown,
  ) {
    super(`identity provider ${issuer} is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "IdpUnavailable";
  }
}

export function idpUnavailable(e: IdpUnavailable, retryAfterSeconds: number): ApiError {
  return new ApiError("unavailable", `cannot verify the token now: ${e.message}; try again shortly`, {
    "retry-after": String(retryAfterSeconds),
  });
}

/** Turns a jose verification error into what the user should read in error_description. */
export function describeJoseError(e: unknown, which: "token" | "ID token" = "token"): string {
  if (e instanceof errors.JWTExpired) return `${which} expired`;
  if (e instanceof errors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case "nbf":
        return `${which} is not yet valid (nbf)`;
      case "iat":
        return `${which} issued in the future (iat)`;
      case "aud":
        return `${which} audience is not accepted here`;
      case "iss":
        return `${which} issuer mismatch`;
      case "exp":
      case "sub":
        return `${which} has no ${e.claim} claim`;
      default:
        return `${which} claim ${printable(e.claim)} is invalid: ${printable(e.reason)}`;
    }
  }
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported)
    return `${which} signing algorithm is not allowed`;
  if (e instanceof errors.JWKSNoMatchingKey) return `${which} signing key (kid) is unknown`;
  if (e instanceof errors.JWKSMultipleMatchingKeys) return `${which} signing key is ambiguous`;
  if (e instanceof errors.JWSSignatureVerificationFailed) return `${which} signature is invalid`;
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return `${which} is malformed`;
  return `${which} could not be verified`;
}
