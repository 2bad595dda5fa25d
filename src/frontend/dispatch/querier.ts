import { upstreamUrl } from "../../http/forward.js";
import { FORM } from "../../http/media-type.js";
import type { QuerierCall } from "../api/codec.js";
import type { QueryResponse } from "../types.js";

/** Thrown when a querier could not be asked or answered with 5xx: worth trying another. */
export class QuerierFailure extends Error {
  constructor(
    message: string,
    readonly response?: QueryResponse,
  ) {
    super(message);
    this.name = "QuerierFailure";
  }
}

/**
 * Whether a 2xx body is the API's JSON. Loki's own frontend says application/json, but a Loki querier that
 * serves the query API itself (no frontend or scheduler in front of it) says text/plain with the same JSON.
 */
const answersJson = (contentType: string): boolean => /json|^text\/plain\b/i.test(contentType);

/**
 * One HTTP call to a querier. 2xx JSON (however labelled) is parsed; 4xx comes back as the querier's answer; 5xx and network errors throw.
 */
export async function callQuerier(
  baseUrl: string,
  call: QuerierCall,
  headers: Headers,
  signal: AbortSignal,
  fetch: typeof globalThis.fetch = globalThis.fetch,
): Promise<QueryResponse> {
  const url = upstreamUrl(baseUrl, call.path, call.method === "GET" ? call.params.toString() : "");
  const h = new Headers(headers);
  let body: string | undefined;
  if (call.method === "POST") {
    body = call.params.toString();
    h.set("content-type", FORM);
  }

  let res: Response;
  try {
    res = await fetch(url, { method: call.method, headers: h, body, signal, redirect: "manual" });
  } catch (e) {
    if (signal.aborted) throw signal.reason ?? e;
    throw new QuerierFailure(
      `querier ${url.host} is unreachable: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`,
    );
  }
  const contentType = res.headers.get("content-type") ?? "application/octet-stream";
  const raw = new Uint8Array(await res.arrayBuffer());
  const response: QueryResponse = { status: res.status, contentType, raw };
  if (res.status >= 500) throw new QuerierFailure(`querier ${url.host} answered ${res.status}`, response);
  if (res.status >= 200 && res.status < 300 && answersJson(contentType)) {
    try {
      const cacheControl = res.headers.get("cache-control") ?? undefined;
      return {
        status: res.status,
        // A Loki querier serving the API itself labels its JSON text/plain; the answer is JSON either way.
        contentType: contentType.includes("json") ? contentType : "application/json",
        json: JSON.parse(new TextDecoder().decode(raw)),
        ...(cacheControl ? { cacheControl } : {}),
      };
    } catch {
      // text/plain that is not JSON is some other answer (kept as it came); JSON that does not parse is broken.
      if (contentType.includes("json")) throw new QuerierFailure(`querier ${url.host} answered invalid JSON`, response);
    }
  }
  return response;
}
