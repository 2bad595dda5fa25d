import { ApiError } from "./errors.js";
import { HeaderMap, type HeaderReader } from "./header-map.js";
import { IDENTITY_HEADER } from "../identity/signed-identity.js";

/** A replica's signed call to another (frontend.membership); never a client's to send on. */
export const REPLICA_AUTH_HEADER = "x-fairgate-replica-auth";

/** Headers a client could use to claim an identity or a tenant; only the edge sets these. */
export const SPOOFABLE_HEADERS = [
  "authorization",
  "x-id-token",
  "cookie",
  "x-scope-orgid",
  "x-loki-actor-path",
  "x-prom-label-policy",
  "x-grafana-id",
  "x-grafana-user",
  IDENTITY_HEADER,
  REPLICA_AUTH_HEADER,
];
// RFC 9110 §7.6.1, plus the ones a proxy must not pass on (host and length are the new request's own).
export const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
  "forwarded",
  "x-real-ip",
  // Answered by the edge's own server (100 Continue); the body then streams on like any other.
  "expect",
];

function dropHopByHop(h: MutableHeaders): void {
  // Headers named in Connection are hop-by-hop for this message too.
  for (const name of (h.get("connection") ?? "").split(",")) if (name.trim()) h.delete(name.trim().toLowerCase());
  for (const name of HOP_BY_HOP) h.delete(name);
}

/** What must not go back to the client: hop-by-hop headers, and the encoding of a body the runtime decoded. */
function cleanResponseHeaders(h: Headers, bodiesDecoded: boolean): void {
  dropHopByHop(h);
  if (bodiesDecoded) {
    h.delete("content-encoding");
    h.delete("content-length");
  }
}

export interface ForwardedFor {
  clientIp?: string;
  proto: string;
  keepAuthorization: boolean;
}

interface MutableHeaders extends HeaderReader {
  set(name: string, value: string): void;
  delete(name: string): void;
}

/** The client's headers minus everything spoofable and hop-by-hop, plus X-Forwarded-*. */
export function cleanRequestHeaders(incoming: Headers, via: ForwardedFor): Headers {
  return clean(new Headers(incoming), incoming, via);
}

/** The same, into a HeaderMap: what the edge hands on (cheaper than Headers on Node). */
export function cleanHeaderMap(incoming: HeaderReader, via: ForwardedFor): HeaderMap {
  return clean(HeaderMap.from(incoming), incoming, via);
}

function clean<H extends MutableHeaders>(h: H, incoming: HeaderReader, via: ForwardedFor): H {
  const authorization = incoming.get("authorization");
  dropHopByHop(h);
  for (const name of SPOOFABLE_HEADERS) h.delete(name);
  if (via.keepAuthorization && authorization) h.set("authorization", authorization);
  if (via.clientIp) {
    const prior = incoming.get("x-forwarded-for");
    h.set("x-forwarded-for", prior ? `${prior}, ${via.clientIp}` : via.clientIp);
  }
  h.set("x-forwarded-proto", via.proto);
  return h;
}

export interface ForwardOptions {
  timeoutMs: number;
  /** Node's fetch hands back decoded bodies: their Content-Encoding no longer applies. */
  bodiesDecoded: boolean;
  fetch?: typeof fetch;
  /** The body to send in place of the request's own (e.g. one cut at a size limit). */
  body?: ReadableStream<Uint8Array> | null;
  /** Cuts the upstream call off; an ApiError as its reason is the answer (e.g. 413 for a body over its limit). */
  signal?: AbortSignal;
}

/**
 * Streams the request to the target and the answer back. Gives up with 504 when the upstream has not answered
 * (sent its headers) within opts.timeoutMs; the client's disconnect aborts the upstream call, body included.
 */
export async function forward(req: Request, target: URL, headers: HeaderMap, opts: ForwardOptions): Promise<Response> {
  const body = opts.body === undefined ? req.body : opts.body;
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && body !== null;
  // One controller, a timer and a listener: on Node, AbortSignal.timeout and AbortSignal.any cost a
  // measurable share of a proxied request (weak references, finalization registries).
  const upstream = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    upstream.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
  }, opts.timeoutMs);
  const clientGone = () => upstream.abort(req.signal.reason);
  if (req.signal.aborted) clientGone();
  else req.signal.addEventListener("abort", clientGone, { once: true });
  const cut = () => upstream.abort(opts.signal!.reason);
  opts.signal?.addEventListener("abort", cut, { once: true });
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(target, {
      method: req.method,
      headers: headers.toHeaders(),
      body: hasBody ? body : undefined,
      redirect: "manual",
      signal: upstream.signal,
      ...(hasBody ? { duplex: "half" } : {}),
    } as RequestInit);
  } catch (e) {
    if (timedOut) throw upstreamTimeout(opts.timeoutMs);
    if (opts.signal?.aborted && opts.signal.reason instanceof ApiError) throw opts.signal.reason;
    if (req.signal.aborted) throw new ApiError("canceled", "the client went away");
    throw upstreamUnreachable(target, e);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", cut);
  }
  // Edit the answer's headers in place where they are editable (a Response built in this process, as Node's
  // upstream client returns) and hand it on as it is: a body that came whole then stays bytes, which the Node
  // server writes together with the headers, where a re-wrapped body would be a stream written in pieces.
  // fetch's own Responses have immutable headers (the first delete throws, before anything changed): copy those.
  try {
    cleanResponseHeaders(res.headers, opts.bodiesDecoded);
    return res;
  } catch {
    const out = new Headers(res.headers);
    cleanResponseHeaders(out, opts.bodiesDecoded);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
  }
}

/** The upstream sent no answer's headers within `timeoutMs` (504). */
export const upstreamTimeout = (timeoutMs: number): ApiError =>
  new ApiError("timeout", `upstream did not answer within ${timeoutMs / 1000}s; try a smaller time range`);

/** The upstream could not be reached, or the call failed before an answer (502). */
export const upstreamUnreachable = (target: URL, e: unknown): ApiError =>
  new ApiError(
    "bad_gateway",
    `upstream ${target.host} is unreachable: ` +
      `${e instanceof Error ? ((e.cause as Error)?.message ?? e.message) : String(e)}`,
  );

/** `base` (which may carry a path prefix, e.g. http://mimir/prometheus) joined with a request's path and query. */
export function upstreamUrl(base: string, path: string, search = ""): URL {
  const url = new URL(base);
  url.pathname = url.pathname.replace(/\/$/, "") + path;
  url.search = search;
  return url;
}
