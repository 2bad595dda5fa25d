import { invalidRequest, missingToken } from "./errors.js";

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, b64token = 1*( ALPHA / DIGIT / "-._~+/" ) *"=".
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const SCHEME = /^[^\s,]+/;

/**
 * The Bearer token of a request, or the RFC 6750 error for its Authorization header: no code when
 * the client sent no Bearer credentials at all (none, or another scheme such as Basic), and
 * invalid_request when it sent Bearer credentials that are not exactly one well-formed token.
 */
export function bearerToken(authorization: string | null): string {
  const auth = (authorization ?? "").trim();
  const scheme = SCHEME.exec(auth);
  if (!scheme) throw missingToken();
  if (scheme[0].toLowerCase() !== "bearer") {
    // Two Authorization headers reach us joined by ", ": a Bearer one after another scheme is still ambiguous.
    if (/,\s*bearer(?:\s|$)/i.test(auth)) throw invalidRequest("send exactly one Authorization header");
    throw missingToken();
  }
  const rest = auth.slice(scheme[0].length).trimStart();
  if (rest === "") throw invalidRequest("the Bearer token is missing: send Authorization: Bearer <token>");
  if (/[\s,]/.test(rest)) throw invalidRequest("send exactly one Bearer token in one Authorization header");
  if (!B64TOKEN.test(rest))
    throw invalidRequest("the Bearer token has characters outside A-Z a-z 0-9 - . _ ~ + / and trailing =");
  return rest;
}
