import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { upstreamFetch } from "../../src/node/upstream-fetch.js";

/** A deferred the test resolves, so the upstream's steps happen when the test says. */
function gate(): { open(): void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe("Node upstream client", () => {
  const GZ = gzipSync(JSON.stringify({ status: "success", data: { result: "x".repeat(5_000) } }));
  let server: Server;
  let base: string;
  /** Paths requested, in order. */
  let seen: string[];
  /** Requests whose connection closed before the answer ended. */
  let cut: string[];
  let firstBodyChunk: ReturnType<typeof gate>;
  let finishBody: ReturnType<typeof gate>;
  let received: Buffer;

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
    "/slow": () => {}, // never answers
    "/partial": (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first ");
      void finishBody.opened.then(() => res.end("last"));
    },
    "/empty": (_req, res) => res.writeHead(204, { "x-empty": "yes" }).end(),
    "/redirect": (_req, res) => res.writeHead(302, { location: "/elsewhere" }).end(),
    "/gzip": (_req, res) =>
      res
        .writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": GZ.length })
        .end(GZ),
    "/upload": (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => {
        chunks.push(c);
        firstBodyChunk.open();
      });
      req.on("end", () => {
        received = Buffer.concat(chunks);
        res.writeHead(200, { "x-transfer-encoding": req.headers["transfer-encoding"] ?? "" }).end("ok");
      });
    },
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = req.url!;
      seen.push(path);
      res.on("close", () => {
        if (!res.writableFinished) cut.push(path);
      });
      (routes[path] ?? ((_q, r: ServerResponse) => r.writeHead(404).end()))(req, res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    seen = [];
    cut = [];
    firstBodyChunk = gate();
    finishBody = gate();
  });

  it("rejects with an AbortError when aborted before the answer, and the upstream sees the disconnect", async () => {
    const ac = new AbortController();
    const pending = upstreamFetch(`${base}/slow`, { signal: ac.signal });
    await expect.poll(() => seen).toEqual(["/slow"]);
    ac.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    await expect.poll(() => cut).toEqual(["/slow"]);
  });

  it("streams the answer as it comes, and an abort mid-body errors the body and reaches the upstream", async () => {
    const ac = new AbortController();
    const res = await upstreamFetch(`${base}/partial`, { signal: ac.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("first ");
    ac.abort();
    await expect(reader.read()).rejects.toMatchObject({ name: "AbortError" });
    await expect.poll(() => cut).toEqual(["/partial"]);
  });

  it("hands on a body that ends later, whole", async () => {
    const res = await upstreamFetch(`${base}/partial`, {});
    finishBody.open();
    expect(await res.text()).toBe("first last");
    expect(cut).toEqual([]);
  });

  it("streams the request body: the upstream has the first chunk before the last is written", async () => {
    const body = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(new TextEncoder().encode("a".repeat(1000)));
        await firstBodyChunk.opened; // the upstream already has it: nothing waited for the whole body
        c.enqueue(new TextEncoder().encode("b".repeat(1000)));
        c.close();
      },
    });
    const res = await upstreamFetch(`${base}/upload`, { method: "POST", body, duplex: "half" } as RequestInit);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-transfer-encoding")).toBe("chunked");
    expect(received.toString()).toBe("a".repeat(1000) + "b".repeat(1000));
  });

  it("gives HEAD and 204 answers no body", async () => {
    const head = await upstreamFetch(`${base}/gzip`, { method: "head" });
    expect([head.status, head.body, head.headers.get("content-length")]).toEqual([200, null, String(GZ.length)]);
    const empty = await upstreamFetch(`${base}/empty`, {});
    expect([empty.status, empty.body, empty.headers.get("x-empty")]).toEqual([204, null, "yes"]);
  });

  it("does not follow redirects, whatever init.redirect says", async () => {
    const res = await upstreamFetch(`${base}/redirect`, {});
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/elsewhere");
    expect(seen).toEqual(["/redirect"]);
  });

  it("passes a gzip body through byte for byte, Content-Encoding and Content-Length kept", async () => {
    const res = await upstreamFetch(`${base}/gzip`, { headers: { "accept-encoding": "gzip" } });
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect(res.headers.get("content-length")).toBe(String(GZ.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(GZ)).toBe(true);
  });
});
