import { ApiError } from "./errors.js";

// A client that sends too much gets its answer at once, and the connection is not kept for the rest of its body.
const tooLarge = (max: number, what: string) =>
  new ApiError("too_large", `request body over the ${max}-byte limit for ${what}`, { connection: "close" });

/** 431 when all headers together (names, values, ": " and CRLF each) exceed max bytes. */
export function requireHeaderSize(headers: Headers, max: number): void {
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
export function requireDeclaredLength(headers: Headers, max: number, what: string): void {
  const declared = headers.get("content-length");
  if (declared !== null && Number(declared) > max) throw tooLarge(max, what);
}

export interface LimitedBody {
  body: ReadableStream<Uint8Array> | null;
  /** Set once the body went over the limit: the error to answer with. */
  readonly exceeded?: ApiError;
}

/**
 * The body, passed on as it streams in, up to max bytes: the chunk that would cross the limit is never passed on,
 * and the stream fails with 413 instead (for a chunked body, whose length nobody declared).
 */
export function limitBody(body: ReadableStream<Uint8Array> | null, max: number, what: string): LimitedBody {
  const out: { body: ReadableStream<Uint8Array> | null; exceeded?: ApiError } = { body: null };
  if (!body) return out;
  let seen = 0;
  out.body = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen <= max) return controller.enqueue(chunk);
        out.exceeded = tooLarge(max, what);
        controller.error(out.exceeded);
      },
    }),
  );
  return out;
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
