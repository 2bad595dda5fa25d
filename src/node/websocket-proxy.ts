import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import WebSocket, { type WebSocketServer } from "ws";
import { ApiError, errorResponse } from "../http/errors.js";
import type { HeaderReader } from "../http/header-map.js";

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Payload Too Large",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Answers an upgrade request with a plain HTTP response (the socket has not become a WebSocket yet). */
export async function rejectUpgrade(socket: Duplex, res: Response): Promise<void> {
  const body = await res.text();
  const lines = [`HTTP/1.1 ${res.status} ${STATUS_TEXT[res.status] ?? "Error"}`];
  for (const [k, v] of res.headers) lines.push(`${k}: ${v}`);
  lines.push(`content-length: ${Buffer.byteLength(body)}`, "connection: close", "", body);
  socket.end(lines.join("\r\n"));
}

export function rejectWithError(socket: Duplex, err: unknown, pathname: string): Promise<void> {
  // What is not one of our refusals came from reading the upgrade request itself.
  const refusal = err instanceof ApiError ? err : new ApiError("bad_data", "malformed upgrade request");
  return rejectUpgrade(socket, errorResponse(refusal, pathname));
}

// Close codes that may not be sent on the wire (RFC 6455 §7.4.1) become a normal close.
const sendable = (code: number) =>
  (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);

/**
 * Opens the upstream WebSocket first, and only then accepts the client's upgrade, so an upstream
 * refusal (e.g. 400 for a bad query) reaches the client as that HTTP status.
 */
export function proxyWebSocket(
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: URL,
  headers: HeaderReader,
): void {
  const upstreamUrl = new URL(target);
  upstreamUrl.protocol = upstreamUrl.protocol === "https:" ? "wss:" : "ws:";
  const out: Record<string, string> = {};
  headers.forEach((v, k) => {
    if (!k.startsWith("sec-websocket-")) out[k] = v;
  });
  const protocols = req.headers["sec-websocket-protocol"]
    ?.split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const upstream = new WebSocket(upstreamUrl, protocols, { headers: out, perMessageDeflate: false });
  let accepted = false;
  socket.on("error", () => upstream.terminate());
  socket.on("close", () => {
    if (!accepted) upstream.terminate();
  });

  upstream.on("unexpected-response", (_r, res) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => {
      const h = new Headers();
      const ct = res.headers["content-type"];
      if (typeof ct === "string") h.set("content-type", ct);
      void rejectUpgrade(socket, new Response(Buffer.concat(chunks), { status: res.statusCode ?? 502, headers: h }));
      upstream.terminate();
    });
  });
  upstream.on("error", (e) => {
    if (!accepted)
      void rejectWithError(
        socket,
        new ApiError("bad_gateway", `tail upstream ${target.host} is unreachable: ${e.message}`),
        target.pathname,
      );
  });
  upstream.on("open", () => {
    accepted = true;
    wss.handleUpgrade(req, socket, head, (client) => {
      client.on(
        "message",
        (data, isBinary) => upstream.readyState === WebSocket.OPEN && upstream.send(data, { binary: isBinary }),
      );
      upstream.on(
        "message",
        (data, isBinary) => client.readyState === WebSocket.OPEN && client.send(data, { binary: isBinary }),
      );
      client.on("close", (code, reason) => upstream.close(sendable(code) ? code : 1000, reason));
      upstream.on("close", (code, reason) => client.close(sendable(code) ? code : 1000, reason));
      client.on("error", () => upstream.terminate());
      upstream.on("error", () => client.terminate());
    });
  });
}

/** A Web Request for an upgrade's headers, so the same admission code serves HTTP and WebSocket. */
export function upgradeRequest(req: IncomingMessage, proto = "http"): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  return new Request(`${proto}://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, { method: req.method, headers });
}
