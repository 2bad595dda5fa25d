import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callQuerier, QuerierFailure } from "../../../../src/frontend/dispatch/querier.js";
import { type Listening, listenOnLoopback } from "../../../support/loopback.js";

// A querier that answers each path with the Content-Type and body the path names.
const answers: Record<string, [number, string, string]> = {
  "/loki-querier": [
    200,
    "text/plain; charset=utf-8",
    '{"status":"success","data":{"resultType":"streams","result":[]}}',
  ],
  "/frontend": [200, "application/json", '{"status":"success","data":{"resultType":"streams","result":[]}}'],
  "/plain-text": [200, "text/plain; charset=utf-8", "ready\n"],
  "/broken-json": [200, "application/json", '{"status":'],
};

let querier: Listening;
beforeAll(async () => {
  querier = await listenOnLoopback(
    createServer((req, res) => {
      const [status, type, body] = answers[req.url!.split("?")[0]!] ?? [404, "text/plain", "not found"];
      res.writeHead(status, { "content-type": type }).end(body);
    }),
  );
});
afterAll(() => querier.close());

const ask = (path: string) =>
  callQuerier(
    querier.url,
    { method: "GET", path, params: new URLSearchParams() },
    new Headers(),
    AbortSignal.timeout(5000),
  );

describe("a querier's answer", () => {
  it("is JSON when a Loki querier serving the API itself labels it text/plain, and is passed on as JSON", async () => {
    const res = await ask("/loki-querier");
    expect(res.json).toEqual({ status: "success", data: { resultType: "streams", result: [] } });
    expect(res.contentType).toBe("application/json");
  });

  it("keeps the querier's own JSON content type", async () => {
    const res = await ask("/frontend");
    expect(res.json).toBeDefined();
    expect(res.contentType).toBe("application/json");
  });

  it("is kept as it came when text/plain is not JSON", async () => {
    const res = await ask("/plain-text");
    expect(res.json).toBeUndefined();
    expect(new TextDecoder().decode(res.raw)).toBe("ready\n");
  });

  it("is a querier failure when it says JSON and is not", async () => {
    await expect(ask("/broken-json")).rejects.toBeInstanceOf(QuerierFailure);
  });
});
