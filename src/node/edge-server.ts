// The edge's HTTP shell on Node: node:http in, undici's dispatcher out. The decisions are the shared Edge's (the
// same as on Workers); this file only moves bytes. It skips what a Web Request and fetch cost on Node (a
// Request, Headers, an AbortSignal and WHATWG streams per request): the answer's body goes from the upstream
// socket to the client's as it arrives, paused while the client is slow.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { Agent, type Dispatcher } from "undici";
import type { EdgeConfig } from "../config/schema.js";
import type { Edge } from "../edge/edge.js";
import type { Admitted, EdgeRequest } from "../edge/request.js";
import { refusal } from "../edge/refusal.js";
import { ApiError, errorBody } from "../http/errors.js";
import { HOP_BY_HOP, upstreamTimeout, upstreamUnreachable } from "../http/forward.js";
import { HeaderMap } from "../http/header-map.js";
import { tooLarge } from "../http/request-limits.js";
import type { RequestFields, RequestLog } from "../observability/requests.js";

export interface EdgeServerOptions {
  edge: Edge;
  config: EdgeConfig;
  requests: RequestLog;
  scheme: "http" | "https";
}

export interface EdgeServer {
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** Closes the upstream connections (after the listener has drained). */
  close(): Promise<void>;
}

// An answer's length stays: its body is passed on byte for byte, and a known length spares chunked encoding.
const HOP = new Set(HOP_BY_HOP.filter((name) => name !== "content-length"));

/** The request as admission reads it; its body becomes a Web stream only if label policies read it. */
class NodeEdgeRequest implements EdgeRequest {
  constructor(
    readonly incoming: IncomingMessage,
    readonly url: string,
    readonly headers: HeaderMap,
  ) {}
  get method(): string {
    return this.incoming.method!;
  }
  get body(): ReadableStream<Uint8Array> | null {
    const m = this.incoming.method;
    return m === "GET" || m === "HEAD" ? null : (Readable.toWeb(this.incoming) as ReadableStream<Uint8Array>);
  }
}

/** The path and query of an origin-form or absolute-form request target; anything else is a 400. */
function requestTarget(raw: string): string {
  let target = raw;
  if (target[0] !== "/") {
    if (!/^https?:\/\//i.test(target)) throw new ApiError("bad_data", "malformed request target");
    const url = new URL(target);
    target = url.pathname + url.search;
  }
  // A URL parser reads "\" as "/" in a path: a different path than the one a raw match would see.
  const q = target.indexOf("?");
  const backslash = target.indexOf("\\");
  if (backslash !== -1 && (q === -1 || backslash < q)) throw new ApiError("bad_data", "backslash in request path");
  return target;
}

const pathOf = (target: string) => {
  const q = target.indexOf("?");
  return q === -1 ? target : target.slice(0, q);
};

export function edgeServer(opts: EdgeServerOptions): EdgeServer {
  const { edge, config, requests } = opts;
  const timeoutMs = config.upstream.timeout;
  // One pool of kept-alive connections per upstream origin; `timeout` is how long its answer's headers may take.
  const agent = new Agent({ headersTimeout: timeoutMs, bodyTimeout: 0 });

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    const fields: RequestFields = {};
    let path = "/";
    const record = (status: number) =>
      requests.record(
        { method: req.method!, path, status, ms: performance.now() - started, requestId: header(req, "x-request-id") },
        fields,
      );
    const fail = (e: unknown) => {
      const err = refusal(e, (f) => Object.assign(fields, f));
      record(err.status);
      answerError(res, err, path);
    };
    try {
      const target = requestTarget(req.url ?? "/");
      path = pathOf(target);
      if ((req.method === "GET" || req.method === "HEAD") && (path === "/healthz" || path === "/ready")) {
        void probe(path).then((r) => {
          record(r.status);
          res.writeHead(r.status, r.headers).end(r.body);
        }, fail);
        return;
      }
      const request = new NodeEdgeRequest(req, `${opts.scheme}://edge${target}`, HeaderMap.fromRaw(req.rawHeaders));
      edge
        .admit(request, req.socket.remoteAddress)
        .then((admitted) => {
          fields.tenant = admitted.identity.tenants.join("|");
          fields.actor = admitted.identity.actorPath;
          if (!admitted.target) throw new ApiError("unavailable", "no upstream is configured for this route");
          proxy(agent, req, res, admitted, admitted.target, timeoutMs, record, fail);
        })
        .catch(fail);
    } catch (e) {
      fail(e);
    }
  };

  async function probe(path: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const text = { "content-type": "text/plain; charset=UTF-8" };
    if (path === "/healthz") return { status: 200, headers: text, body: "ok\n" };
    const problems = await edge.verifier.problems();
    return problems.length === 0
      ? { status: 200, headers: text, body: "ready\n" }
      : {
          status: 503,
          headers: { ...text, "retry-after": "5" },
          body: `not ready:\n${problems.map((p) => `- ${p}`).join("\n")}\n`,
        };
  }

  return { listener, close: () => agent.close() };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function answerError(res: ServerResponse, err: ApiError, path: string): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const { contentType, body } = errorBody(err, path);
  res
    .writeHead(err.status, { ...err.headers, "content-type": contentType, "content-length": Buffer.byteLength(body) })
    .end(body);
}

/** The client's body as it streams in, cut with a 413 once it passes the route's limit (never sent shortened). */
async function* limitedBody(req: IncomingMessage, max: number, what: string): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > max) throw tooLarge(max, what);
    yield chunk;
  }
}

function hasBody(req: IncomingMessage): boolean {
  if (req.method === "GET" || req.method === "HEAD") return false;
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/** The upstream's answer headers minus hop-by-hop ones (and those its Connection header names), for writeHead. */
function answerHeaders(raw: Buffer[]): string[] {
  const out: string[] = [];
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString("latin1").toLowerCase();
    if (name === "connection")
      named = new Set(
        raw[i + 1]!.toString("latin1")
          .split(",")
          .map((n) => n.trim().toLowerCase()),
      );
    if (!HOP.has(name)) out.push(name, raw[i + 1]!.toString("latin1"));
  }
  if (!named) return out;
  return out.filter((_, i) => (i % 2 === 0 ? !named.has(out[i]!) : !named.has(out[i - 1]!)));
}

function proxy(
  agent: Agent,
  req: IncomingMessage,
  res: ServerResponse,
  admitted: Admitted,
  target: URL,
  timeoutMs: number,
  record: (status: number) => void,
  fail: (e: unknown) => void,
): void {
  let abortUpstream: ((e: Error) => void) | undefined;
  let clientGone = false;
  // The client went away before the answer was done: the upstream call (body included) is cut off.
  const onClose = () => {
    if (res.writableFinished) return;
    clientGone = true;
    abortUpstream?.(new ApiError("canceled", "the client went away"));
  };
  res.once("close", onClose);
  const what = `${admitted.route.group} requests`;
  const body =
    admitted.body !== undefined ? admitted.body : hasBody(req) ? limitedBody(req, admitted.maxBodyBytes, what) : null;

  // The answer's head waits for the parser to hand over the rest of its socket read (a small answer's whole body
  // and its end come along): then head and body go to the client in one write instead of two or three.
  let early: Buffer[] | undefined;
  let complete = false;
  const flush = (status: number, headers: string[], resume: () => void) => {
    const chunks = early;
    if (!chunks) return; // the upstream failed first: onError has answered
    early = undefined;
    try {
      res.writeHead(status, headers);
    } catch (e) {
      abortUpstream?.(new Error("answer not passed on"));
      return fail(new ApiError("bad_gateway", `upstream ${target.host} sent an answer that cannot be passed on: ${e}`));
    }
    record(status);
    if (complete) {
      res.off("close", onClose);
      return void res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    }
    for (const chunk of chunks) res.write(chunk);
    res.on("drain", () => resume());
  };

  const handler: Dispatcher.DispatchHandlers = {
    onConnect(abort) {
      abortUpstream = abort;
      if (clientGone) abort(new ApiError("canceled", "the client went away"));
    },
    onHeaders(status, raw, resume) {
      if (status < 200) return true; // 1xx: the answer follows
      const headers = answerHeaders(raw as unknown as Buffer[]);
      early = [];
      queueMicrotask(() => flush(status, headers, resume));
      return true;
    },
    onData(chunk) {
      if (early) return early.push(chunk) > 0;
      return res.write(chunk);
    },
    onComplete() {
      complete = true;
      if (early) return; // the flush ends the answer
      res.off("close", onClose);
      res.end();
    },
    onError(e) {
      res.off("close", onClose);
      early = undefined;
      if (clientGone) {
        if (!res.headersSent) record(499);
        return;
      }
      if (res.headersSent) return void res.destroy(e);
      if (e instanceof ApiError) return fail(e);
      if ((e as { code?: string }).code === "UND_ERR_HEADERS_TIMEOUT") return fail(upstreamTimeout(timeoutMs));
      fail(upstreamUnreachable(target, e));
    },
  };

  agent.dispatch(
    {
      origin: target.origin,
      path: target.pathname + target.search,
      method: req.method as Dispatcher.HttpMethod,
      headers: admitted.headers.flat(),
      body: body as Dispatcher.DispatchOptions["body"],
    },
    handler,
  );
}
