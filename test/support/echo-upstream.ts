import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { gzipSync } from "node:zlib";
import { WebSocketServer } from "ws";
import { listenOnLoopback } from "./loopback.js";

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A recording upstream: answers every request with what it received (as JSON), and records it,
 * so a test can assert what reached it — or that nothing did.
 * Special requests: ?echo=slow (never answers until aborted), ?echo=gzip (compressed body), and a WebSocket
 * echo on any path (messages come back prefixed with "echo:"). Body bytes are counted as they arrive, also for
 * requests that never complete (bodyBytes), so a test can bound what reached the upstream.
 */
export interface EchoUpstream {
  url: string;
  requests: Recorded[];
  /** Requests whose client went away before the answer. */
  aborted: string[];
  upgrades: Recorded[];
  /** Body bytes each request delivered, complete or not, in arrival order. */
  bodyBytes: { url: string; bytes: number }[];
  reset(): void;
  close(): Promise<void>;
}

export async function startEchoUpstream(): Promise<EchoUpstream> {
  const requests: Recorded[] = [];
  const aborted: string[] = [];
  const upgrades: Recorded[] = [];
  const bodyBytes: { url: string; bytes: number }[] = [];
  const server: Server = createServer((req, res) => {
    // Health checks are answered but not recorded: tests count what queries reached the upstream.
    if (req.url === "/ready" || req.url === "/-/ready") return void res.end("ready");
    const chunks: Buffer[] = [];
    const seen = { url: req.url!, bytes: 0 };
    bodyBytes.push(seen);
    req.on("data", (c: Buffer) => {
      seen.bytes += c.length;
      chunks.push(c);
    });
    req.on("end", () => {
      const rec = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(rec);
      if (req.url?.includes("echo=slow")) {
        res.on("close", () => {
          if (!res.writableEnded) aborted.push(req.url!);
        });
        return; // never answers
      }
      const body = JSON.stringify({ status: "success", data: { echo: rec } });
      if (req.url?.includes("echo=gzip")) {
        res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
        return res.end(gzipSync(body));
      }
      res.writeHead(200, { "content-type": "application/json", connection: "keep-alive", "x-upstream": "echo" });
      res.end(body);
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    upgrades.push({ method: req.method!, url: req.url!, headers: req.headers, body: "" });
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(`hello ${req.headers["x-scope-orgid"] ?? "?"}`);
      ws.on("message", (data) => ws.send(`echo:${data.toString()}`));
    });
  });
  const listening = await listenOnLoopback(server);
  return {
    url: listening.url,
    requests,
    aborted,
    upgrades,
    bodyBytes,
    reset() {
      bodyBytes.length = 0;
      requests.length = 0;
      aborted.length = 0;
      upgrades.length = 0;
    },
    close: () => {
      for (const c of wss.clients) c.terminate();
      return listening.close();
    },
  };
}
