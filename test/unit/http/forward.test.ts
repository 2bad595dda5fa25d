import { describe, expect, it } from "vitest";
import { cleanRequestHeaders, SPOOFABLE_HEADERS } from "../../../src/http/forward.js";

describe("header hygiene", () => {
  const incoming = new Headers({
    authorization: "Bearer t",
    "x-id-token": "id",
    cookie: "grafana_session=1",
    "x-scope-orgid": "other",
    "x-loki-actor-path": "spoof",
    "x-prom-label-policy": "team-a:%7Bx%3D%22y%22%7D",
    "x-grafana-id": "jwt",
    "x-grafana-user": "admin",
    "x-fairgate-identity": "forged",
    connection: "keep-alive, x-secret-hop",
    "x-secret-hop": "1",
    "keep-alive": "timeout=5",
    "transfer-encoding": "chunked",
    upgrade: "h2c",
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    tracestate: "a=b",
    "x-query-tags": "Source=logvolhist",
    "x-forwarded-for": "10.0.0.1",
    "user-agent": "Grafana/12.0.0",
  });

  it("removes every spoofable and hop-by-hop header and keeps tracing and query tags", () => {
    const h = cleanRequestHeaders(incoming, { clientIp: "127.0.0.9", proto: "https", keepAuthorization: false });
    for (const name of [
      ...SPOOFABLE_HEADERS,
      "connection",
      "x-secret-hop",
      "keep-alive",
      "transfer-encoding",
      "upgrade",
    ])
      expect(h.has(name), name).toBe(false);
    expect(h.get("traceparent")).toBe(incoming.get("traceparent"));
    expect(h.get("tracestate")).toBe("a=b");
    expect(h.get("x-query-tags")).toBe("Source=logvolhist");
    expect(h.get("x-forwarded-for")).toBe("10.0.0.1, 127.0.0.9");
    expect(h.get("x-forwarded-proto")).toBe("https");
    expect(h.get("user-agent")).toBe("Grafana/12.0.0");
  });

  it("keeps Authorization only when the upstream needs it", () => {
    expect(cleanRequestHeaders(incoming, { proto: "http", keepAuthorization: true }).get("authorization")).toBe(
      "Bearer t",
    );
  });
});
