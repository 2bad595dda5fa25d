// What the edge's own HTTP shell on Node (node:http in, undici out) does that the Hono app on Workers leaves to
// the runtime: streaming and backpressure, the answer's headers, odd request targets, broken upstreams.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate } from "selfsigned";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { run, type Running } from "../../src/node/run.js";
import { jwksEdgeConfig } from "../support/edge-config.js";
import { startJwksServer, type JwksServer } from "../support/jwks-server.js";
import { rawHttp, statusOf } from "../support/net.js";

/** An upstream whose answer each test picks by path. */
function startUpstream(routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void>) {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url!, "http://x").pathname;
    const route = Object.entries(routes).find(([suffix]) => path.endsWith(suffix));
    if (route) return route[1](req, res);
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"success"}');
  });
  return new Promise<{ url: string; close: () => Promise<void> }>((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => {
          server.closeAllConnections();
          return new Promise<void>((r) => server.close(() => r()));
        },
      }),
    ),
  );
}

describe("the edge's HTTP shell on Node", () => {
  let jwks: JwksServer;
  let upstream: { url: string; close: () => Promise<void> };
  let edge: Running;
  let token: string;
  const bigChunk = Buffer.alloc(64 * 1024, "x");
  const blocked = { bytesWritten: 0, waiting: false, release: () => {} };
  let receivedBody = "";

  beforeAll(async () => {
    jwks = await startJwksServer();
    upstream = await startUpstream({
      // 8 MiB in 64 KiB chunks, honouring backpressure.
      "/query_range": (_req, res) => {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        let left = 128;
        const more = () => {
          while (left > 0) {
            left--;
            if (!res.write(bigChunk)) return void res.once("drain", more);
          }
          res.end();
        };
        more();
      },
      // Writes until the socket pushes back, then waits for the test.
      "/series": (_req, res) => {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        const more = () => {
          for (;;) {
            blocked.bytesWritten += bigChunk.length;
            if (!res.write(bigChunk)) {
              blocked.waiting = true;
              blocked.release = () => res.destroy();
              return;
            }
          }
        };
        more();
      },
      "/labels": (_req, res) => {
        res.writeHead(200, [
          "content-type",
          "application/json",
          "set-cookie",
          "a=1",
          "set-cookie",
          "b=2",
          "connection",
          "x-private, keep-alive",
          "x-private",
          "hop",
          "keep-alive",
          "timeout=5",
          "content-length",
          "2",
        ]);
        res.end("{}");
      },
      // Headers, part of the body, then the connection breaks.
      "/detected_labels": (_req, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
        res.write('{"partial":');
        setTimeout(() => res.destroy(), 50);
      },
      // What the edge sent, as the upstream saw it.
      "/format_query": (req, res) => {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(req.headers));
      },
      "/push": (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          receivedBody = Buffer.concat(chunks).toString();
          res.writeHead(204).end();
        });
      },
    });
    const config = parseConfig(jwksEdgeConfig(jwks, upstream.url));
    edge = await run(config, "edge");
    token = await jwks.sign({ tenants: ["team-a"] });
  });
  afterAll(async () => {
    blocked.release();
    await edge?.close(100);
    await upstream?.close();
    await jwks?.close();
  });
  const auth = () => ({ authorization: `Bearer ${token}` });

  it("streams a large answer through whole", async () => {
    const res = await fetch(`${edge.url}/loki/api/v1/query_range?query=x`, { headers: auth() });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(128 * bigChunk.length);
    expect(createHash("sha256").update(body).digest("hex")).toBe(
      createHash("sha256")
        .update(Buffer.concat(Array(128).fill(bigChunk)))
        .digest("hex"),
    );
  });

  it("pauses the upstream while the client does not read (backpressure), instead of buffering its answer", async () => {
    const url = new URL(`${edge.url}/loki/api/v1/series?match[]=x`);
    const req = request(url, { headers: auth() });
    const answered = new Promise<IncomingMessage>((resolve) => req.on("response", resolve));
    req.end();
    const res = await answered;
    res.pause(); // the client reads nothing more
    await expect.poll(() => blocked.waiting, { timeout: 10_000 }).toBe(true);
    // Socket buffers on both sides and the client's first read hold a few MiB at most; the upstream stopped there.
    expect(blocked.bytesWritten).toBeLessThan(32 * 1024 * 1024);
    res.destroy();
  });

  it("drops the answer's hop-by-hop headers and those its Connection names; keeps both cookies and the length", async () => {
    const raw = await rawHttp(
      edge.url,
      `GET /loki/api/v1/labels HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
    );
    expect(statusOf(raw)).toBe(200);
    const head = raw.split("\r\n\r\n")[0]!.toLowerCase();
    expect(head).toContain("set-cookie: a=1");
    expect(head).toContain("set-cookie: b=2");
    expect(head).toContain("content-length: 2");
    expect(head).not.toContain("x-private");
    expect(head).not.toContain("timeout=5");
  });

  it("streams a chunked request body to the upstream", async () => {
    const parts = ["first,", "second,", "third"];
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        const next = parts.shift();
        if (next === undefined) c.close();
        else c.enqueue(new TextEncoder().encode(next));
      },
    });
    const res = await fetch(`${edge.url}/loki/api/v1/push`, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(204);
    expect(receivedBody).toBe("first,second,third");
  });

  it("answers Expect: 100-continue itself, and streams the body on without the header", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${edge.url}/loki/api/v1/push`, {
        method: "POST",
        headers: { ...auth(), "content-type": "application/json", expect: "100-continue" },
      });
      req.on("continue", () => req.end("after-continue"));
      req.on("response", (res) => resolve(res.resume().statusCode!));
      req.on("error", reject);
    });
    expect(status).toBe(204);
    expect(receivedBody).toBe("after-continue");
  });

  it("decides an absolute-form target on its path, and refuses a target that is no path", async () => {
    const absolute = await rawHttp(
      edge.url,
      `GET http://elsewhere/loki/api/v1/labels HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        "Connection: close\r\n\r\n",
    );
    expect(statusOf(absolute)).toBe(200);
    const star = await rawHttp(edge.url, "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(statusOf(star)).toBe(400);
    const backslash = await rawHttp(
      edge.url,
      "GET /loki\\api/v1/labels HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    expect(statusOf(backslash)).toBe(400);
  });

  it("cuts the client's connection when the upstream breaks off mid-answer, instead of ending it as if whole", async () => {
    const res = await fetch(`${edge.url}/loki/api/v1/detected_labels`, { headers: auth() });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it("answers 502 in the API's format when the upstream cannot be reached", async () => {
    const config = parseConfig({ ...jwksEdgeConfig(jwks, "http://127.0.0.1:9"), log: { level: "silent" } });
    const unreachable = await run(config, "edge");
    try {
      const res = await fetch(`${unreachable.url}/api/v1/query?query=up`, { headers: auth() });
      expect(res.status).toBe(502);
      const body = (await res.json()) as { errorType: string; error: string };
      expect(body.errorType).toBe("bad_gateway");
      expect(body.error).toMatch(/^upstream 127\.0\.0\.1:9 is unreachable: .*ECONNREFUSED/);
    } finally {
      await unreachable.close(100);
    }
  });

  it("serves over TLS, and tells the upstream the request came over https", async () => {
    const pems = await generate([{ name: "commonName", value: "edge" }], {
      keyType: "ec",
      algorithm: "sha256",
      extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }],
    });
    const dir = mkdtempSync(join(tmpdir(), "fairgate-edge-tls-"));
    writeFileSync(join(dir, "tls.crt"), pems.cert);
    writeFileSync(join(dir, "tls.key"), pems.private);
    const config = jwksEdgeConfig(jwks, upstream.url);
    config.server = { listen: "127.0.0.1:0", tls: { cert_file: join(dir, "tls.crt"), key_file: join(dir, "tls.key") } };
    const secure = await run(parseConfig(config), "edge");
    try {
      expect(secure.url).toMatch(/^https:/);
      const seen = await new Promise<Record<string, string>>((resolve, reject) => {
        const req = httpsRequest(`${secure.url}/loki/api/v1/format_query?query=x`, { ca: pems.cert, headers: auth() });
        req.on("response", (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (d: string) => (body += d));
          res.on("end", () => resolve(JSON.parse(body) as Record<string, string>));
        });
        req.on("error", reject).end();
      });
      expect(seen["x-forwarded-proto"]).toBe("https");
      expect(seen["x-scope-orgid"]).toBe("team-a");
    } finally {
      await secure.close(100);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
