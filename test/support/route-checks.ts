import fc from "fast-check";
import type { expect as vitestExpect } from "vitest";
import type { EchoUpstream } from "./echo-upstream.js";
import { rawRequest, unfinishedRequest } from "./net.js";
import { mangledPath, referenceCanonical } from "./paths.js";

type Expect = typeof vitestExpect;

// Where the shared test config sends each kind of route (edge-config.ts).
const UPSTREAM_PREFIXES = ["", "/distributor", "/compactor"];

/**
 * The route property over HTTP, paths sent byte for byte: each mangled path is refused with 400 (or the runtime
 * refuses the request line) or answered exactly as its canonical form is; whatever reaches the upstream carries
 * the canonical path, never the one the client wrote.
 */
export async function expectCanonicalDecisions(
  baseUrl: string,
  headers: Record<string, string>,
  upstream: EchoUpstream,
  expect: Expect,
  runs: number,
): Promise<void> {
  const samples = fc.sample(fc.tuple(mangledPath(), fc.constantFrom("GET", "POST")), { numRuns: runs, seed: 12 });
  const send = async (method: string, path: string) => {
    upstream.reset();
    const res = await rawRequest(`${baseUrl}${path}?query=%7Bapp%3D%22api%22%7D`, { method, headers, body: "" });
    await res.text();
    return { status: res.status, reached: upstream.requests.map((r) => new URL(r.url, "http://upstream").pathname) };
  };
  let decided = 0;
  for (const [raw, method] of samples) {
    const sent = await send(method, raw);
    if (sent.status === 400 || sent.status === 599) {
      expect(sent.reached, `${method} ${raw}`).toEqual([]);
      continue;
    }
    const canonical = referenceCanonical(new URL(`http://fairgate${raw}`).pathname);
    const again = await send(method, canonical);
    expect(sent.status, `${method} ${raw} and ${canonical}`).toBe(again.status);
    for (const path of [...sent.reached, ...again.reached])
      expect(
        UPSTREAM_PREFIXES.map((p) => p + canonical),
        `${method} ${raw}`,
      ).toContain(path);
    decided++;
  }
  // Not a vacuous pass: a good share of the paths got past the 400s and were compared.
  expect(decided).toBeGreaterThan(runs / 4);
}

/**
 * A body over the route's limit: with a declared length, 413 before the body is read; chunked, 413 while the client
 * is still sending, and the upstream never got more than the limit, nor took a cut body for a whole one.
 * With `early: false` the client sends its whole body first (wrangler dev's proxy in front of workerd holds an
 * answer back, or drops the connection, while a request body is still coming).
 */
export async function expectBodyLimit(
  baseUrl: string,
  request: { path: string; headers: Record<string, string> },
  limit: number,
  upstream: EchoUpstream,
  expect: Expect,
  early = true,
): Promise<void> {
  const host = new URL(baseUrl).host;
  const head = (framing: string) =>
    [
      `POST ${request.path} HTTP/1.1`,
      `Host: ${host}`,
      ...Object.entries(request.headers).map(([k, v]) => `${k}: ${v}`),
      framing,
      "",
      "",
    ].join("\r\n");
  upstream.reset();
  const length = early ? 10_000_000 : limit + 8192;
  const declared = await unfinishedRequest(baseUrl, head(`Content-Length: ${length}`), {
    bytes: early ? 8192 : length,
    chunked: false,
  });
  expect(declared.status).toBe(413);
  expect(upstream.bodyBytes).toEqual([]);

  // Early, the client stops short of ending its body: only an edge that answers without the whole body answers.
  const chunked = await unfinishedRequest(baseUrl, head("Transfer-Encoding: chunked"), {
    bytes: limit + 512 * 1024,
    chunked: true,
    finish: !early,
  });
  expect(chunked.status).toBe(413);
  for (const seen of upstream.bodyBytes) expect(seen.bytes).toBeLessThanOrEqual(limit);
  expect(upstream.requests).toEqual([]);
}
