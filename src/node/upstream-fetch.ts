import { Agent, type Dispatcher } from "undici";

// A fetch for the edge's upstream calls on Node, on undici's dispatcher API. Node's global fetch pays for
// WHATWG streams on every request (a ReadableStream per body, a promise per chunk); here the answer's body
// is a stream only when it has not fully arrived with the headers. Unlike global fetch it never decodes
// a compressed body (Content-Encoding and Content-Length pass through as the upstream sent them) and
// never follows a redirect, whatever `init.redirect` says.

const agent = new Agent();
// Statuses whose Response must have a null body (Fetch standard; 1xx never reach a Response here).
const NULL_BODY = new Set([204, 205, 304]);
// fetch upper-cases these methods whatever the caller's case.
const NORMALIZED_METHOD = /^(delete|get|head|options|post|put)$/i;
// How much of a streamed answer may wait in memory for the client before the upstream socket is paused.
const STREAM_BUFFER_BYTES = 64 * 1024;

type Body = string | Uint8Array | ReadableStream<Uint8Array> | null;

function requestBody(body: BodyInit | null | undefined, headers: Headers): { body: Body; headers: Headers } {
  if (body == null) return { body: null, headers };
  if (typeof body === "string" || body instanceof Uint8Array || body instanceof ReadableStream)
    return { body, headers };
  if (body instanceof ArrayBuffer) return { body: new Uint8Array(body), headers };
  if (ArrayBuffer.isView(body)) return { body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), headers };
  // Blob, FormData, URLSearchParams: let the platform serialize them, with the content type fetch would send.
  const normalized = new Request("http://body.invalid/", { method: "POST", body });
  const contentType = normalized.headers.get("content-type");
  if (contentType === null || headers.has("content-type")) return { body: normalized.body, headers };
  const withType = new Headers(headers); // the caller's Headers stay as they were
  withType.set("content-type", contentType);
  return { body: normalized.body, headers: withType };
}

/**
 * Fetch-compatible (typeof fetch). Honours method, headers, a body (streamed when it is a ReadableStream) and
 * `signal`: an abort rejects with the signal's reason (an AbortError unless the caller gave another), errors a
 * body still streaming, and closes the upstream connection so the upstream sees the disconnect.
 */
export function upstreamFetch(input: URL | RequestInfo, init: RequestInit = {}): Promise<Response> {
  if (input instanceof Request) {
    init = { method: input.method, headers: input.headers, body: input.body, signal: input.signal, ...init };
    input = input.url;
  }
  const url = typeof input === "string" ? new URL(input) : input;
  const signal = init.signal ?? undefined;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const method =
    init.method === undefined ? "GET" : NORMALIZED_METHOD.test(init.method) ? init.method.toUpperCase() : init.method;
  const { body, headers } = requestBody(
    init.body,
    init.headers instanceof Headers ? init.headers : new Headers(init.headers),
  );

  return new Promise<Response>((resolve, reject) => {
    let abortUpstream: ((reason: Error) => void) | undefined;
    let resumeUpstream: (() => void) | undefined;
    let settled = false;
    let stream: ReadableStreamDefaultController<Uint8Array> | undefined;
    // Body bytes that arrive before the Response is handed over; undefined once it is.
    let early: Buffer[] | undefined = [];
    let complete = false;

    const fail = (e: unknown) => {
      signal?.removeEventListener("abort", onAbort);
      if (!settled) {
        settled = true;
        reject(e);
      } else if (stream) {
        try {
          stream.error(e);
        } catch {
          // already closed or errored
        }
      }
    };
    const onAbort = () => {
      abortUpstream?.(signal!.reason); // before the request has a connection, onConnect aborts it
      fail(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });

    const handOver = (status: number, init: ResponseInit, chunks: Buffer[]): Response => {
      if (method === "HEAD" || NULL_BODY.has(status)) return new Response(null, init);
      // Socket reads are backed by plain ArrayBuffers, never shared ones.
      if (complete)
        return new Response(
          (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)) as Uint8Array<ArrayBuffer>,
          init,
        );
      const body = new ReadableStream<Uint8Array>(
        {
          start(controller) {
            stream = controller;
            for (const chunk of chunks) controller.enqueue(chunk);
          },
          pull: () => resumeUpstream?.(),
          cancel: (reason) => abortUpstream?.(reason instanceof Error ? reason : new Error("response body cancelled")),
        },
        { highWaterMark: STREAM_BUFFER_BYTES, size: (chunk) => chunk.byteLength },
      );
      return new Response(body, init);
    };

    const handler: Dispatcher.DispatchHandlers = {
      onConnect(abort) {
        abortUpstream = abort;
        if (signal?.aborted) abort(signal.reason);
      },
      onHeaders(status, raw, resume, statusText) {
        if (status < 200) return true; // 1xx: the real answer follows
        resumeUpstream = resume;
        const responseHeaders = new Headers();
        for (let i = 0; i < raw.length; i += 2)
          responseHeaders.append(raw[i]!.toString("latin1"), raw[i + 1]!.toString("latin1"));
        // The parser hands over the rest of this socket read (body and end, if they came along) before
        // any microtask runs: decide then whether the body is all here or must stream.
        queueMicrotask(() => {
          if (settled) return;
          const chunks = early!;
          early = undefined;
          try {
            const response = handOver(status, { status, statusText, headers: responseHeaders }, chunks);
            settled = true;
            resolve(response);
          } catch (e) {
            // A status or status text no Response can carry.
            abortUpstream?.(e as Error);
            fail(e);
          }
        });
        return true;
      },
      onData(chunk) {
        if (early) {
          early.push(chunk);
          return true;
        }
        if (!stream) return true; // HEAD or a null-body status: nothing to hand on
        stream.enqueue(chunk);
        return stream.desiredSize! > 0;
      },
      onComplete() {
        signal?.removeEventListener("abort", onAbort);
        complete = true;
        stream?.close();
      },
      onError: fail,
    };

    agent.dispatch(
      // A ReadableStream is an async iterable, which undici streams (chunked) though its types do not list it.
      {
        origin: url.origin,
        path: url.pathname + url.search,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body as Dispatcher.DispatchOptions["body"],
      },
      handler,
    );
  });
}
