import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { run, type Running } from "../../src/node/run.js";
import { edgeConfig } from "../support/edge-config.js";
import { startEchoUpstream, type EchoUpstream } from "../support/echo-upstream.js";
import { logLines } from "../support/log-lines.js";
import { startOidcProvider, type TestIdp } from "../support/oidc-provider.js";

describe("request log and metrics", () => {
  let idp: TestIdp;
  let echo: EchoUpstream;
  let edge: Running;
  const { lines, sink } = logLines();

  beforeAll(async () => {
    idp = await startOidcProvider({ audience: "fairgate" });
    echo = await startEchoUpstream();
    const config = edgeConfig(idp, echo.url);
    edge = await run(
      parseConfig({
        ...config,
        server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" },
        log: { level: "info", slow_query: "50ms" },
      }),
      "edge",
      { logDestination: sink },
    );
  });
  afterAll(async () => {
    await edge?.close(100);
    await echo?.close();
    await idp?.close();
  });

  it("one JSON line per request: tenant, actor hash, route, status and duration, never the token", async () => {
    const { accessToken } = await idp.userTokens("alice");
    expect(
      (
        await fetch(`${edge.url}/loki/api/v1/label/app/values`, {
          headers: { authorization: `Bearer ${accessToken}`, "x-request-id": "req-123" },
        })
      ).status,
    ).toBe(200);
    expect(
      (await fetch(`${edge.url}/loki/api/v1/labels`, { headers: { authorization: "Bearer garbage.token.here" } }))
        .status,
    ).toBe(401);
    await expect.poll(() => lines.length).toBeGreaterThanOrEqual(2);
    const ok = lines.find((l) => l.request_id === "req-123")!;
    expect(ok).toMatchObject({
      msg: "request",
      method: "GET",
      route: "loki:label_values",
      status: 200,
      tenant: "team-a",
    });
    expect(ok.actor).toMatch(/^users\|[0-9a-f]{32}$/);
    expect(typeof ok.duration_ms).toBe("number");
    const refused = lines.find((l) => l.status === 401)!;
    expect(refused.auth_failure).toContain("malformed");
    const all = JSON.stringify(lines);
    expect(all).not.toContain(accessToken);
    expect(all).not.toContain("garbage.token.here");
    expect(all).not.toContain('"alice"');
  });

  it("counts requests and authentication failures on /metrics", async () => {
    const text = await (await fetch(`${edge.adminUrl}/metrics`)).text();
    expect(text).toMatch(/fairgate_requests_total\{route="loki:label_values",status="200",tenant="team-a"\} \d+/);
    expect(text).toMatch(/fairgate_auth_failures_total\{reason="malformed"\} \d+/);
    expect(text).toContain("fairgate_request_duration_seconds_bucket");
  });

  it("writes a slow-query line above the threshold", async () => {
    const { accessToken } = await idp.userTokens("alice");
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    await fetch(`${edge.url}/loki/api/v1/labels?echo=slow`, {
      headers: { authorization: `Bearer ${accessToken}` },
      signal: ac.signal,
    }).catch(() => undefined);
    await expect
      .poll(() => lines.some((l) => l.msg === "slow query" && l.route === "loki:labels"), { timeout: 5000 })
      .toBe(true);
  });
});
