import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, expandEnv, parseConfigText } from "../../src/config/load.js";

const problemsOf = (text: string, env: Record<string, string> = {}): string[] => {
  try {
    parseConfigText(text, env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

const MINIMAL = `
edge:
  issuers:
    - issuer: https://idp.example.com
      audiences: [grafana]
  tenants:
    rules: [{ claim: groups, read: [$value] }]
  actor: { secret: \${SECRET} }
  upstream: { read_url: http://frontend:8080 }
`;

describe("config", () => {
  it("accepts the default config shipped for npm start", () => {
    const text = readFileSync(new URL("../../config/fairgate.yaml", import.meta.url), "utf8");
    const c = parseConfigText(text, {});
    expect(c.demo.enabled).toBe(true);
    expect(c.edge?.issuers[0]?.clock_tolerance).toBe(30_000);
    expect(c.edge?.actor.max_levels).toBe(3);
  });

  it("fills defaults and expands ${ENV}", () => {
    const c = parseConfigText(MINIMAL, { SECRET: "0123456789abcdef0123" });
    expect(c.edge?.actor.secret).toBe("0123456789abcdef0123");
    expect(c.edge?.issuers[0]?.algorithms).toEqual(["RS256", "PS256", "ES256", "EdDSA"]);
    expect(c.edge?.jwks.cooldown).toBe(30_000);
    expect(c.server.listen).toBe("127.0.0.1:8080");
  });

  it("lists every problem by path in one go", () => {
    const problems = problemsOf(`
edge:
  issuers:
    - issuer: not-a-url
      algorithms: [HS256]
      clock_tolerance: soon
  tenants:
    rules: [{ claim: groups, read: ["bad tenant"] }]
  actor: { secret: short, user_path: "a||{hash}" }
  upstream: { read_url: http://frontend:8080, timeot: 5s }
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        "edge.issuers[0].issuer: must be an http(s) URL",
        "edge.issuers[0].audiences: required",
        expect.stringMatching(/^edge\.issuers\[0\]\.algorithms\[0\]: only asymmetric/),
        expect.stringMatching(/^edge\.issuers\[0\]\.clock_tolerance: not a duration: "soon"/),
        expect.stringMatching(/^edge\.tenants\.rules\[0\]\.read\[0\]: tenant ID "bad tenant" has characters/),
        expect.stringMatching(/^edge\.actor\.secret: use a secret of at least 16/),
        "edge.actor.user_path: has an empty segment",
        "edge.upstream: unknown key timeot",
      ]),
    );
  });

  it("tells a value of the wrong type from a missing one", () => {
    const problems = problemsOf(`
frontend:
  queriers: [{ url: http://q, max_concurrent: "4" }]
  cache: { backend: memcached, memcached: { servers: ["m:11211"], breaker_failures: often } }
`);
    expect(problems).toEqual([
      "frontend.queriers[0].max_concurrent: Invalid input: expected number, received string",
      "frontend.cache.memcached.breaker_failures: Invalid input: expected number, received string",
    ]);
  });

  it("reports a missing environment variable with its line, together with schema problems", () => {
    const problems = problemsOf(MINIMAL);
    expect(problems[0]).toBe("line 8: environment variable SECRET is not set");
    expect(problems).toHaveLength(2);
    expect(problems[1]).toMatch(/^edge\.actor\.secret: /);
  });

  it("refuses actor path templates deeper than max_levels", () => {
    const problems = problemsOf(
      MINIMAL.replace("secret: ${SECRET}", 'secret: "0123456789abcdef", user_path: "a|b|c|{hash}"'),
    );
    expect(problems).toEqual(["edge.actor.user_path: has 4 levels, more than max_levels (3)"]);
  });

  it("reports YAML syntax errors", () => {
    expect(problemsOf("edge: [unclosed")[0]).toMatch(/^YAML: /);
  });

  it("needs edge or frontend", () => {
    expect(problemsOf("server: { listen: 127.0.0.1:9 }")).toEqual(["(top level): configure edge, frontend, or both"]);
  });

  it("caps the signed identity lifetime at 60s", () => {
    const problems = problemsOf(`${MINIMAL}identity: { secret: "${"x".repeat(32)}", ttl: 5m }\n`, {
      SECRET: "0123456789abcdef",
    });
    expect(problems).toEqual(["identity.ttl: must be between 1ms and 60s"]);
  });

  it("expands defaults and leaves other text alone", () => {
    expect(expandEnv("a: ${X:-fallback} $notvar ${Y}", { Y: "y" })).toEqual({
      text: "a: fallback $notvar y",
      problems: [],
    });
  });
});
