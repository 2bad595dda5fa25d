import { ApiError } from "./errors.js";
import type { HeaderReader } from "./header-map.js";

// A client that sends too much gets its answer at once, and the connection is not kept for the rest of its body.
export const tooLarge = (max: number, what: string) =>
  new ApiError("too_large", `request body over the ${max}-byte limit for ${what}`, { connection: "close" });

/** 431 when all headers together (names, values, ": " and CRLF each) exceed max bytes. */
export function requireHeaderSize(headers: HeaderReader, max: number): void {
  let bytes = 0;
  headers.forEach((value, name) => {
    bytes += name.length + value.length + 4;
  });
  if (bytes > max)
    throw new ApiError("headers_too_large", `request headers of ${bytes} bytes are over the limit of ${max} bytes`, {
      connection: "close",
    });
}

/** 413 before a byte of the body is read, when its declared length is over the limit. */
export function requireDeclaredLength(headers: HeaderReader, max: number, what: string): void {
  const declared = headers.get("content-length");
  if (declared !== null && Number(declared) > max) throw tooLarge(max, what);
}

export interface LimitedBody {
  body: ReadableStream<Uint8Array> | null;
  /** Aborted, with the 413 as its reason, the moment the body goes over the limit. */
  signal: AbortSignal;
}

/**
 * The body, passed on as it streams in, up to max bytes (for a chunked body, whose length nobody declared). The chunk
 * that would cross the limit is never passed on: the signal aborts first (so an upstream call that sends this body
 * is cut off, and the upstream never takes the shortened body for a whole one), then the stream fails with 413.
 */
export function limitBody(body: ReadableStream<Uint8Array> | null, max: number, what: string): LimitedBody {
  const over = new AbortController();
  if (!body) return { body, signal: over.signal };
  let seen = 0;
  // Pulled chunk by chunk (no pipe whose failure would go unhandled): nothing is read ahead of the consumer.
  const reader = body.getReader();
  const limited = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      seen += value.byteLength;
      if (seen <= max) return controller.enqueue(value);
      const error = tooLarge(max, what);
      over.abort(error);
      controller.error(error);
      await reader.cancel(error).catch(() => undefined); // the body is refused already: its source only stops
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { body: limited, signal: over.signal };
}

/** The same request at another URL, with another body (a limited one) and optionally other headers. */
export function rebuilt(req: Request, url: URL, body: ReadableStream<Uint8Array> | null, headers?: Headers): Request {
  return new Request(url, {
    method: req.method,
    headers: headers ?? req.headers,
    body,
    signal: req.signal,
    ...(body ? { duplex: "half" } : {}),
  } as RequestInit);
}
