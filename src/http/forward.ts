import { ApiError } from "./errors.js";
import { IDENTITY_HEADER } from "../identity/identity.js";

/** Headers a client could use to claim an identity or a tenant; only the edge sets these. */
export const SPOOFABLE_HEADERS = [
  "authorization", "x-id-token", "cookie", "x-scope-orgid", "x-loki-actor-path", "x-prom-label-policy",
  "x-grafana-id", "x-grafana-user", IDENTITY_HEADER,
];
// RFC 9110 §7.6.1, plus the ones a proxy must not pass on (host and length are the new request's own).
const HOP_BY_HOP = [
  "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
  "transfer-encoding", "upgrade", "host", "content-length", "forwarded", "x-real-ip",
];

function dropHopByHop(h: Headers): void {
  // Headers named in Connection are hop-by-hop for this message too.
  for (const name of (h.get("connection") ?? "").split(",")) if (name.trim()) h.delete(name.trim());
  for (const name of HOP_BY_HOP) h.delete(name);
}

export interface ForwardedFor {
  clientIp?: string;
  proto: string;
  keepAuthorization: boolean;
}

/** The client's headers minus everything spoofable and hop-by-hop, plus X-Forwarded-*. */
export function cleanRequestHeaders(incoming: Headers, via: ForwardedFor): Headers {
  const h = new Headers(incoming);
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
}

/** Streams the request to the target and the answer back; the client's disconnect aborts the upstream call. */
export async function forward(req: Request, target: URL, headers: Headers, opts: ForwardOptions): Promise<Response> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== null;
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(target, {
      method: req.method,
      headers,
      body: hasBody ? req.body : undefined,
      redirect: "manual",
      signal: AbortSignal.any([req.signal, timeout]),
      ...(hasBody ? { duplex: "half" } : {}),
    } as RequestInit);
  } catch (e) {
    if (timeout.aborted) throw new ApiError("timeout", `upstream did not answer within ${opts.timeoutMs / 1000}s; try a smaller time range`);
    if (req.signal.aborted) throw new ApiError("canceled", "the client went away");
    throw new ApiError("bad_gateway", `upstream ${target.host} is unreachable: ${e instanceof Error ? (e.cause as Error)?.message ?? e.message : String(e)}`);
  }
  const out = new Headers(res.headers);
  dropHopByHop(out);
  if (opts.bodiesDecoded) {
    out.delete("content-encoding");
    out.delete("content-length");
  }
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
}
