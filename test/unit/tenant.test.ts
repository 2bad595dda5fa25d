import { describe, expect, it } from "vitest";
import type { EdgeConfig } from "../../src/config/schema.js";
import { grantFor, resolveTenants } from "../../src/edge/tenant.js";
import { ApiError } from "../../src/http/errors.js";

const policy: EdgeConfig["tenants"] = {
  rules: [
    { claim: "groups", read: ["$value"], write: [], federate: false },
    { claim: "groups", values: ["admins"], read: ["ops"], write: [], federate: true, default: "ops" },
    { claim: "write_tenants", read: [], write: ["$value"], federate: false },
    { claim: "realm_access.roles", values: ["loki-reader"], read: ["shared"], write: [], federate: false },
  ],
};

function error(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected an ApiError");
}

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
