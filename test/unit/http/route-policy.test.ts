import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../src/config/load.js";
import { routesSchema } from "../../../src/config/routes.js";
import { canonicalPath } from "../../../src/http/canonical-path.js";
import { ApiError } from "../../../src/http/errors.js";
import { decideRoute, requireScopes } from "../../../src/http/route-policy.js";
import { mangledPath, referenceCanonical } from "../../support/paths.js";

const defaults = routesSchema.parse(undefined);
const allOn = routesSchema.parse({
  delete: { enabled: true, url: "http://compactor:3100", scopes: ["logs:delete"] },
  rules: { enabled: true, url: "http://ruler:3100", scopes: ["rules:read", "rules:write"], scope_match: "any" },
  admin: { enabled: true, url: "http://prometheus:9090" },
});

/** The decision as data: the route's group and target, or the status it was refused with. */
function outcome(method: string, path: string, config = defaults): string | number {
  try {
    const { route } = decideRoute(method, path, config);
    return `${route.group}:${route.target}`;
  } catch (e) {
    if (e instanceof ApiError) return e.status;
    throw e;
  }
}

describe("canonicalPath", () => {
  it.each([
    ["/loki/api/v1/query_range", "/loki/api/v1/query_range"],
    ["/loki/api/v1/%70ush", "/loki/api/v1/push"],
    ["/api/v1/label/%5F_name__/values", "/api/v1/label/__name__/values"],
    ["/api/v1/label/caf%c3%a9/values", "/api/v1/label/caf%C3%A9/values"],
    ["/api/v1/label/a%20b|c/values", "/api/v1/label/a%20b%7Cc/values"],
  ])("%s is %s", (raw, canonical) => {
    expect(canonicalPath(raw)).toBe(canonical);
    expect(canonicalPath(canonical)).toBe(canonical);
  });

  it.each([
    ["/loki/api/v1/%2E%2E%2F%2E%2E%2Fadmin", 'encoded "."'],
    ["/loki/api/v1/..%2f..%2fconfig", 'encoded "/"'],
    ["/loki/api/v1/%252e%252e/", 'encoded "%"'],
    ["/loki/api/v1/query%5c", 'encoded "\\"'],
    ["/loki/api/v1\\query", "backslash"],
    ["/loki/api/v1/query%00", "control character"],
    ["/loki/api/v1/query\x01", "control character"],
    ["/loki/api/v1//query", "empty segment"],
    ["/loki/api/v1/query/", "empty segment"],
    ["/loki/api/v1/../query", "dot segment"],
    ["/loki/api/v1/./query", "dot segment"],
    ["/loki/api/v1/%zzquery", "bad percent-escape"],
    ["/loki/api/v1/query%e", "bad percent-escape"],
    ["/loki/api/v1/%c3%28", "not UTF-8"],
    ["loki/api/v1/query", "does not start with /"],
  ])("refuses %j (%s) with 400", (raw, why) => {
    expect(() => canonicalPath(raw)).toThrow(
      expect.objectContaining({ status: 400, message: expect.stringContaining(why) }),
    );
  });
});

describe("decideRoute", () => {
  it.each([
    ["GET", "/loki/api/v1/query_range", "read:read"],
    ["POST", "/loki/api/v1/query_range", "read:read"],
    ["GET", "/loki/api/v1/label/app/values", "read:read"],
    ["GET", "/loki/api/v1/detected_field/level/values", "read:read"],
    ["GET", "/loki/api/v1/drilldown-limits", "read:read"],
    ["GET", "/loki/api/v1/tail", "read:tail"],
    ["POST", "/prometheus/api/v1/query_exemplars", "read:read"],
    ["GET", "/api/v1/status/buildinfo", "read:read"],
    ["GET", "/fairgate/api/v1/async/abc", "read:read"],
    ["DELETE", "/fairgate/api/v1/async/abc", "read:read"],
    ["GET", "/fairgate/api/v1/async/abc/status", "read:read"],
    ["POST", "/loki/api/v1/push", "write:write"],
    ["POST", "/loki/api/v1/%70ush", "write:write"],
    ["POST", "/otlp/v1/metrics", "write:write"],
    ["POST", "/loki/api/v1/delete", 404],
    ["GET", "/loki/api/v1/cache/generation_numbers", 404],
    ["POST", "/api/v1/admin/tsdb/delete_series", 404],
    ["POST", "/prometheus/api/v1/admin/tsdb/snapshot", 404],
    ["GET", "/loki/api/v1/rules", 404],
    ["GET", "/prometheus/config/v1/rules/ns", 404],
    ["GET", "/api/v1/status/config", 404],
    ["GET", "/loki/api/v1/query_range/x", 404],
    ["GET", "/LOKI/api/v1/query_range", 404],
    ["GET", "/loki/api/v1/label/values", 404],
    ["GET", "/admin/config", 404],
    ["GET", "/loki/api/v1/push", 405],
    ["PUT", "/api/v1/query", 405],
    ["POST", "/fairgate/api/v1/async/abc", 405],
  ])("%s %s with the default groups: %s", (method, path, expected) => {
    expect(outcome(method, path)).toBe(expected);
  });

  it.each([
    ["POST", "/loki/api/v1/delete", "delete:group"],
    ["DELETE", "/loki/api/v1/delete", "delete:group"],
    ["GET", "/loki/api/v1/cache/generation_numbers", "delete:group"],
    ["POST", "/loki/api/v1/rules/ns", "rules:group"],
    ["DELETE", "/prometheus/config/v1/rules/ns/group", "rules:group"],
    ["GET", "/prometheus/api/v1/alerts", "rules:group"],
    ["POST", "/api/v1/admin/tsdb/delete_series", "admin:group"],
    ["GET", "/api/v1/admin/tsdb/snapshot", 405],
    ["GET", "/loki/api/v1/rules/a/b/c", 404],
    // The replicas' internal route is no client route, whatever is turned on.
    ["POST", "/fairgate/internal/v1/subquery", 404],
  ])("%s %s with every group on: %s", (method, path, expected) => {
    expect(outcome(method, path, allOn)).toBe(expected);
  });

  it("names the allowed methods on 405", () => {
    expect(() => decideRoute("GET", "/loki/api/v1/push", defaults)).toThrow(
      expect.objectContaining({ status: 405, headers: { allow: "POST" } }),
    );
  });

  it("decides on the canonical path: every mangling of a path is refused (400) or decided as its decoding is", () => {
    fc.assert(
      fc.property(mangledPath(), fc.constantFrom("GET", "POST", "DELETE"), (raw, method) => {
        // What a runtime hands over: the WHATWG URL parser resolves dot segments, also %2e ones, before any code runs.
        const seen = new URL(`http://fairgate${raw}`).pathname;
        const decision = outcome(method, seen, allOn);
        if (decision === 400) return;
        const canonical = referenceCanonical(seen);
        expect(canonicalPath(seen)).toBe(canonical);
        expect(outcome(method, canonical, allOn)).toBe(decision);
        // An upstream that decodes once (Go's net/http) reads the same path from what is sent as from what was seen.
        expect(decodeURIComponent(canonical)).toBe(decodeURIComponent(seen));
      }),
      { numRuns: 5000 },
    );
  });
});

describe("requireScopes", () => {
  it("passes without configured scopes, and with all (or any) of them", () => {
    expect(() => requireScopes("read", [], defaults)).not.toThrow();
    expect(() => requireScopes("delete", ["openid", "logs:delete"], allOn)).not.toThrow();
    expect(() => requireScopes("rules", ["rules:read"], allOn)).not.toThrow();
  });

  it("answers 403 with RFC 6750's insufficient_scope challenge naming the scopes", () => {
    const refusal = (() => {
      try {
        requireScopes("rules", ["openid"], allOn);
      } catch (e) {
        return e as ApiError;
      }
    })();
    expect(refusal?.status).toBe(403);
    expect(refusal?.headers["www-authenticate"]).toMatch(
      new RegExp(
        '^Bearer realm="fairgate", error="insufficient_scope", ' +
          'error_description="[^"]+", scope="rules:read rules:write"$',
      ),
    );
    expect(refusal?.message).toContain('one of the scopes "rules:read rules:write"');
  });
});

describe("routes config", () => {
  const problems = (routes: unknown): string[] => {
    try {
      parseConfig({ routes });
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
  };

  it("has 1 MiB for reads, 16 MiB for pushes, the optional groups off, and reads sizes with units", () => {
    expect(defaults.read.max_body_bytes).toBe(1 << 20);
    expect(defaults.write.max_body_bytes).toBe(16 << 20);
    expect([defaults.delete.enabled, defaults.rules.enabled, defaults.admin.enabled]).toEqual([false, false, false]);
    expect(routesSchema.parse({ read: { max_body_bytes: "512KiB" } }).read.max_body_bytes).toBe(512 * 1024);
  });

  it("says what is wrong", () => {
    expect(problems({ delete: { enabled: true } })).toEqual([
      "routes.delete.url: required when enabled (the URL that serves Loki's delete API, e.g. the compactor)",
    ]);
    expect(problems({ read: { max_body_bytes: "1 lot" } })).toEqual([
      'routes.read.max_body_bytes: not a size: "1 lot" (use e.g. 65536, 512KiB, 1MiB, 16MB)',
    ]);
    expect(problems({ write: { scopes: ["logs write"] } })[0]).toMatch(/^routes\.write\.scopes\[0\]: a scope is/);
    expect(problems({ max_header_bytes: 100 })).toEqual(["routes.max_header_bytes: at least 4KiB"]);
    expect(problems({ tail: {} })).toEqual(["routes: unknown key tail"]);
  });
});
