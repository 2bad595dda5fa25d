import { describe, expect, it } from "vitest";
import { classifyRoute } from "../../src/edge/routes.js";

describe("route classification", () => {
  it.each([
    ["GET", "/loki/api/v1/query_range", "read"],
    ["GET", "/loki/api/v1/label/app/values", "read"],
    ["GET", "/loki/api/v1/detected_field/level/values", "read"],
    ["POST", "/api/v1/query_range", "read"],
    ["POST", "/prometheus/api/v1/series", "read"],
    ["GET", "/prometheus/api/v1/status/buildinfo", "read"],
    ["POST", "/loki/api/v1/push", "write"],
    ["POST", "/otlp/v1/logs", "write"],
    ["POST", "/api/v1/push", "write"],
  ])("%s %s is %s", (method, path, kind) => expect(classifyRoute(method, path, false)).toBe(kind));

  it("takes the tail only as a WebSocket upgrade", () => {
    expect(classifyRoute("GET", "/loki/api/v1/tail", true)).toBe("tail");
    expect(classifyRoute("GET", "/loki/api/v1/tail", false)).toEqual({ status: 405, allow: "GET (WebSocket upgrade)" });
  });

  it.each([
    "/",
    "/metrics",
    "/loki/api/v2/query",
    "/loki/api/v1//push",
    "/loki/api/v1/push/",
    "/loki/api/v1/x/../push",
    "/admin",
    "/api/v1",
  ])("%s is not a route", (path) => expect(classifyRoute("GET", path, false)).toEqual({ status: 404 }));

  it("answers 405 for the wrong method", () => {
    expect(classifyRoute("GET", "/loki/api/v1/push", false)).toEqual({ status: 405, allow: "POST" });
    expect(classifyRoute("DELETE", "/api/v1/query", false)).toEqual({ status: 405, allow: "GET, POST" });
  });
});
