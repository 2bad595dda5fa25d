import { describe, expect, it } from "vitest";
import type { EdgeConfig } from "../../../src/config/schema.js";
import { parseConfig } from "../../../src/config/load.js";
import { grantFor, resolveTenants } from "../../../src/edge/tenant.js";
import { thrownApiError } from "../../support/api-error.js";

const policy: EdgeConfig["tenants"] = {
  rules: [
    { claim: "groups", read: ["$value"], write: [], federate: false },
    { claim: "groups", values: ["admins"], read: ["ops"], write: [], federate: true, default: "ops" },
    { claim: "write_tenants", read: [], write: ["$value"], federate: false },
    { claim: "realm_access.roles", values: ["loki-reader"], read: ["shared"], write: [], federate: false },
  ],
};

const error = thrownApiError;

describe("tenant policy", () => {
  it("grants from claim values, fixed lists and nested claims", () => {
    const g = grantFor(
      { groups: ["team-a", "not valid!"], write_tenants: ["team-a"], realm_access: { roles: ["loki-reader"] } },
      policy,
    );
    expect([...g.read].sort()).toEqual(["shared", "team-a"]);
    expect([...g.write]).toEqual(["team-a"]);
    expect(g.federate).toBe(false);
  });

  it("uses the only tenant, or the rule's default, when no header is sent", () => {
    expect(resolveTenants(null, grantFor({ groups: ["team-a"] }, policy), "read")).toEqual(["team-a"]);
    expect(resolveTenants(null, grantFor({ groups: ["team-a", "admins"] }, policy), "read")).toEqual(["ops"]);
  });

  it("asks for X-Scope-OrgID when the choice is ambiguous, listing the choices", () => {
    const e = error(() => resolveTenants(null, grantFor({ groups: ["team-a", "team-b"] }, policy), "read"));
    expect(e.status).toBe(400);
    expect(e.message).toBe("send X-Scope-OrgID to choose a tenant; you may read: team-a, team-b");
  });

  it("refuses a tenant the user does not have, naming it", () => {
    const e = error(() => resolveTenants("team-b", grantFor({ groups: ["team-a"] }, policy), "read"));
    expect(e.status).toBe(403);
    expect(e.message).toContain('tenant "team-b"');
  });

  it("allows a|b only with federation, and only when every tenant is allowed", () => {
    const plain = grantFor({ groups: ["team-a", "team-b"] }, policy);
    expect(error(() => resolveTenants("team-a|team-b", plain, "read")).status).toBe(403);
    const admin = grantFor({ groups: ["team-a", "team-b", "admins"] }, policy);
    expect(resolveTenants("team-b|team-a|team-a", admin, "read")).toEqual(["team-a", "team-b"]);
    expect(error(() => resolveTenants("team-a|team-c", admin, "read")).message).toContain('"team-c"');
  });

  it("validates tenant IDs by Loki's rules (400)", () => {
    const g = grantFor({ groups: ["team-a"] }, policy);
    for (const bad of ["..", ".", "a b", "x".repeat(151), "team-a|", "a/b", "é", "a\tb"])
      expect(error(() => resolveTenants(bad, g, "read")).status).toBe(400);
  });

  it("needs write permission for writes, to exactly one tenant", () => {
    const reader = grantFor({ groups: ["team-a"] }, policy);
    expect(error(() => resolveTenants("team-a", reader, "write")).status).toBe(403);
    const writer = grantFor({ write_tenants: ["team-a", "team-b"] }, policy);
    expect(resolveTenants("team-a", writer, "write")).toEqual(["team-a"]);
    expect(error(() => resolveTenants("team-a|team-b", writer, "write")).status).toBe(400);
  });

  it("refuses a user with no tenants at all", () => {
    expect(error(() => resolveTenants(null, grantFor({}, policy), "read")).status).toBe(403);
  });
});

describe("composable tenant rules", () => {
  const rules = (r: unknown[]) =>
    parseConfig({
      edge: {
        issuers: [{ issuer: "https://login.example.com", audiences: ["fairgate"] }],
        tenants: { rules: r },
        actor: { secret: "0123456789abcdef" },
      },
    }).edge!.tenants;
  const configProblems = (r: unknown[]) => {
    try {
      rules(r);
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };

  // Writes need the logs:write scope AND membership of the tenant's group; reads need the group only.
  const writers = rules([
    { claim: "groups", read: ["$value"] },
    { claim: "groups", write: ["$value"], all: [{ claim: "scope", values: ["logs:write"] }] },
    {
      all: [
        { claim: "scope", values: ["logs:write"] },
        {
          any: [
            { claim: "groups", values: ["ops"] },
            { claim: "realm_access.roles", values: ["admin"] },
          ],
        },
      ],
      write: ["shared"],
    },
  ]);

  it("grants a write only when every condition holds", () => {
    const member = grantFor({ groups: ["team-a"], scope: "openid logs:read" }, writers);
    expect([...member.read]).toEqual(["team-a"]);
    expect([...member.write]).toEqual([]);
    const writer = grantFor({ groups: ["team-a"], scope: "openid logs:read logs:write" }, writers);
    expect([...writer.write]).toEqual(["team-a"]);
    const scopeOnly = grantFor({ scope: "logs:write" }, writers);
    expect([...scopeOnly.write]).toEqual([]);
  });

  it("nests any inside all", () => {
    const viaRole = grantFor({ scope: "logs:write", realm_access: { roles: ["admin"] } }, writers);
    expect([...viaRole.write]).toEqual(["shared"]);
    const viaGroup = grantFor({ scope: ["logs:write"], groups: ["ops"] }, writers);
    expect([...viaGroup.write].sort()).toEqual(["ops", "shared"]);
    expect([...grantFor({ realm_access: { roles: ["admin"] } }, writers).write]).toEqual([]);
  });

  it("matches boolean and number claims, with and without values", () => {
    const policy = rules([
      { claim: "federation", federate: true },
      { claim: "org_id", values: [42], read: ["org-42"] },
      { claim: "beta", values: [true], read: ["beta"] },
      { claim: "org_id", read: ["$value"] },
      { claim: "beta", read: ["$value"] },
    ]);
    const g = grantFor({ federation: true, org_id: 42, beta: true }, policy);
    expect(g.federate).toBe(true);
    expect([...g.read].sort()).toEqual(["42", "beta", "org-42"]); // $value of a boolean grants nothing
    expect(grantFor({ federation: false }, policy).federate).toBe(false);
    expect(grantFor({ federation: "true" }, policy).federate).toBe(true);
    // Compared as text, so the strings "true" and "42" match too (and a string's $value is itself).
    expect([...grantFor({ beta: "true", org_id: "42" }, policy).read].sort()).toEqual(["42", "beta", "org-42", "true"]);
    expect(grantFor({ federation: null, beta: {}, org_id: Number.NaN }, policy)).toEqual({
      read: new Set(),
      write: new Set(),
      federate: false,
      wholeRead: new Set(),
      labels: new Map(),
      limits: [],
    });
  });

  it("matches a space-separated scope string per scope", () => {
    const policy = rules([{ claim: "scope", values: ["logs:read"], read: ["team-a"] }]);
    expect([...grantFor({ scope: "openid logs:read profile" }, policy).read]).toEqual(["team-a"]);
    expect([...grantFor({ scope: "openid logs:reader" }, policy).read]).toEqual([]);
  });

  it("grants only valid tenant IDs through $value, from the rule's own claim", () => {
    const policy = rules([{ claim: "tenants", read: ["$value"], any: [{ claim: "groups", values: ["readers"] }] }]);
    const g = grantFor(
      { tenants: ["team-a", "../x", "a|b", "", 7, 1.5, true, "x".repeat(151)], groups: "readers" },
      policy,
    );
    expect([...g.read].sort()).toEqual(["1.5", "7", "team-a"]);
    expect([...grantFor({ tenants: ["team-a"], groups: ["writers"] }, policy).read]).toEqual([]);
  });

  it("refuses rules that cannot mean anything, saying what to change", () => {
    expect(configProblems([{ read: ["team-a"] }])).toContain("rules[0]: give claim (with optional values), all or any");
    expect(configProblems([{ all: [{ values: ["x"] }], read: ["a"] }])).toContain("values needs claim");
    expect(configProblems([{ all: [], read: ["a"] }])).toContain("list at least one condition");
    expect(configProblems([{ any: [{ claim: "g", valeus: ["x"] }], read: ["a"] }])).toContain("unknown key");
    expect(configProblems([{ all: [{ claim: "scope" }], write: ["$value"] }])).toContain(
      '"$value" stands for values of the rule\'s own claim',
    );
    expect(configProblems([{ claim: "groups", read: ["not valid"] }])).toContain('(or use "$value")');
  });
});
