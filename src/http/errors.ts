// One error type, one status per kind, rendered in the format of the API the client called
// (Prometheus: JSON with errorType; Loki: plain text, as Loki itself answers).
export type ErrorKind =
  | "bad_data"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "too_large"
  | "headers_too_large"
  | "too_many_requests"
  | "canceled"
  | "execution"
  | "internal"
  | "bad_gateway"
  | "unavailable"
  | "timeout";

const STATUS: Record<ErrorKind, number> = {
  bad_data: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  too_large: 413,
  headers_too_large: 431,
  too_many_requests: 429,
  execution: 422,
  canceled: 499,
  internal: 500,
  bad_gateway: 502,
  unavailable: 503,
  timeout: 504,
};

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = STATUS[kind];
  }
}

export type ApiFlavor = "loki" | "prometheus";

export function apiFlavor(pathname: string): ApiFlavor {
  return pathname.startsWith("/loki/") ? "loki" : "prometheus";
}

/** The body an error gets in the API the client called: Loki answers plain text, Prometheus JSON. */
export function errorBody(err: ApiError, pathname: string): { contentType: string; body: string } {
  return apiFlavor(pathname) === "loki"
    ? { contentType: "text/plain; charset=utf-8", body: err.message }
    : {
        contentType: "application/json",
        body: JSON.stringify({ status: "error", errorType: err.kind, error: err.message }),
      };
}

export function errorResponse(err: ApiError, pathname: string): Response {
  const { contentType, body } = errorBody(err, pathname);
  const headers = new Headers(err.headers);
  headers.set("content-type", contentType);
  return new Response(body, { status: err.status, headers });
}

/** Text from a client or an identity provider, made safe to put in a message or a quoted header value. */
export function printable(s: unknown, max = 120): string {
  const text = String(s)
    .replace(/[^\x20-\x7e]/g, "?")
    .replace(/["\\]/g, "'");
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** An error nobody expected, for the operators' log line: its stack when it has one (the message is in it), bounded. */
export const unexpected = (err: unknown): string =>
  (err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err)).slice(0, 2000);
