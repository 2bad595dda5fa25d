import fc from "fast-check";
import type { expect as vitestExpect } from "vitest";
import type { EchoUpstream } from "./echo-upstream.js";
import type { TestIdp } from "./oidc-provider.js";
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
 * With `early: false` the client sends a whole chunked body, a little over the limit, at once: wrangler dev's proxy in
 * front of workerd holds an answer back, or resets the connection, while a request body is still coming (a declared
 * length over the limit is in the attack matrix there, sent whole).
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
  if (early) {
    const declared = await unfinishedRequest(baseUrl, head("Content-Length: 10000000"), {
      bytes: 8192,
      chunked: false,
    });
    expect(declared.status).toBe(413);
    expect(upstream.bodyBytes).toEqual([]);
  }
  // Early, the client stops short of ending its body: only an edge that answers without the whole body answers.
  // Otherwise it sends a little more than the limit, all of it, at once.
  const send = () =>
    unfinishedRequest(baseUrl, head("Transfer-Encoding: chunked"), {
      bytes: limit + (early ? 512 : 16) * 1024,
      chunked: true,
      finish: !early,
    });
  // wrangler dev's proxy in front of workerd sometimes resets such a connection before any answer (seen on a busy
  // machine): one more try then. What reached the upstream is checked over both.
  const chunked = await send().catch((e: unknown) => (early ? Promise.reject(e) : send()));
  expect(chunked.status).toBe(413);
  for (const seen of upstream.bodyBytes) expect(seen.bytes).toBeLessThanOrEqual(limit);
  expect(upstream.requests).toEqual([]);
}

/** The rate limit expectRateLimits expects: practically no refill, so the bursts alone decide at any pace. */
export const RATE_LIMIT = { actor: { rate: 0.001, burst: 3 }, tenant: { rate: 0.001, burst: 4 } };

/** 429 with Retry-After for an actor past its burst, then for a tenant past its own, in each API's error format. */
export async function expectRateLimits(baseUrl: string, idp: TestIdp, upstream: EchoUpstream, expect: Expect) {
  const ask = (path: string, token: string) =>
    fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  upstream.reset();
  const alice = (await idp.userTokens("alice")).accessToken;
  for (let i = 0; i < 3; i++) expect((await ask("/loki/api/v1/labels", alice)).status).toBe(200);
  const loki = await ask("/loki/api/v1/labels", alice);
  expect(loki.status).toBe(429);
  expect(Number(loki.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(await loki.text()).toMatch(/^you are sending requests faster than this gateway allows; retry in \d+s$/);
  const prometheus = await ask("/api/v1/labels", alice);
  expect(prometheus.status).toBe(429);
  expect(await prometheus.json()).toMatchObject({ status: "error", errorType: "too_many_requests" });

  // Another actor of team-a takes the tenant's last token, then meets the tenant's limit; team-b is untouched.
  const svc = await idp.clientCredentialsToken({ clientId: "svc-ingest" });
  expect((await ask("/loki/api/v1/labels", svc)).status).toBe(200);
  const tenant = await ask("/loki/api/v1/labels", svc);
  expect(tenant.status).toBe(429);
  expect(await tenant.text()).toContain('tenant "team-a"');
  expect((await ask("/loki/api/v1/labels", (await idp.userTokens("bob")).accessToken)).status).toBe(200);
  expect(upstream.requests).toHaveLength(5);
}
