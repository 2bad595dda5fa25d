import { ApiError, unexpected } from "../http/errors.js";

/**
 * The error an edge request is answered with, on Workers and on Node alike: an ApiError as it is, anything else a
 * 500 that says no more to the client. A refused credential (401, 403, 503, or a malformed Bearer header: a 400 with
 * a challenge) is told to `observe`, for the log line and the auth-failure metric; every other 4xx tells its reason,
 * for the log; so does an unexpected error (`error`: its stack), for the operators' log line of the request (pino on
 * Node, the console on Workers).
 */
export function refusal(err: unknown, observe?: (fields: Record<string, unknown>) => void): ApiError {
  if (!(err instanceof ApiError)) {
    observe?.({ error: `edge: unexpected error: ${unexpected(err)}` });
    return new ApiError("internal", "internal error in the gateway");
  }
  const challenged = "www-authenticate" in err.headers;
  if (challenged || err.status === 401 || err.status === 403 || err.status === 503)
    observe?.({ auth_failure: err.message });
  else if (err.status >= 400 && err.status < 500) observe?.({ reason: err.message });
  return err;
}
