import { createAdaptorServer } from "@hono/node-server";
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { SecureContextOptions, Server as TlsServer } from "node:tls";

type FetchHandler = (req: Request, env: { incoming: IncomingMessage }) => Response | Promise<Response>;
/** A Web fetch handler (through Hono's Node adapter), or node:http's own request listener. */
export type Handler = FetchHandler | { node: RequestListener };
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void | Promise<void>;

export interface Listener {
  url: string;
  server: Server;
  /** Stops accepting, lets in-flight requests finish for up to graceMs, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
  /** With TLS: new connections get this certificate and key; open ones keep theirs. */
  setSecureContext?(options: SecureContextOptions): void;
}

export class ListenError extends Error {}

// Node counts the request line in its header limit; the route policy counts headers alone, exactly, and answers in
// the API's own error format. Node's own limit sits above it, with room for a long query string.
const REQUEST_LINE_ROOM = 64 * 1024;

/** Listens on `address` ("host:port"), with TLS when given a certificate and key. */
export async function listen(
  handler: Handler,
  address: string,
  onUpgrade?: UpgradeHandler,
  options: { tls?: SecureContextOptions; maxHeaderBytes?: number } = {},
): Promise<Listener> {
  const i = address.lastIndexOf(":");
  const host = address.slice(0, i) || "0.0.0.0";
  const port = Number(address.slice(i + 1));
  const { tls, maxHeaderBytes = 32 * 1024 } = options;
  const serverOptions = { ...tls, maxHeaderSize: maxHeaderBytes + REQUEST_LINE_ROOM };
  const server = (
    typeof handler !== "function"
      ? tls
        ? createHttpsServer(serverOptions, handler.node)
        : createHttpServer(serverOptions, handler.node)
      : tls
        ? createAdaptorServer({ fetch: handler as never, createServer: createHttpsServer, serverOptions })
        : createAdaptorServer({ fetch: handler as never, serverOptions })
  ) as Server;
  // More headers than this, or more bytes than maxHeaderSize, get 431 from Node itself, before any of our code runs.
  server.maxHeadersCount = 200;
  if (onUpgrade) server.on("upgrade", (req, socket, head) => void onUpgrade(req, socket, head));
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new ListenError(
          e.code === "EADDRINUSE"
            ? `cannot listen on ${address}: the port is already in use`
            : `cannot listen on ${address}: ${e.message}`,
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  return {
    url: `${tls ? "https" : "http"}://${shownHost}:${bound.port}`,
    server,
    ...(tls ? { setSecureContext: (options) => (server as unknown as TlsServer).setSecureContext(options) } : {}),
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

export function remoteAddress(env: unknown): string | undefined {
  return (env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket?.remoteAddress;
}
