import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { grantFor, readPolicies } from "../../../src/edge/tenant.js";
import { thrownApiError } from "../../support/api-error.js";

const tenants = (rules: unknown[]) =>
  parseConfig({
    edge: {
      issuers: [{ issuer: "https://idp.test", audiences: ["fairgate"] }],
      actor: { secret: "actor-secret-for-tests" },
      tenants: { rules },
    },
  }).edge!.tenants;

const rules = tenants([
  { claim: "groups", values: ["sre"], read: ["shared"] },
  { claim: "groups", read: ["shared"], labels: ['namespace=~"$value-.*"'] },
  { claim: "teams", read: ["$value"], labels: ['{team="$value", app!="billing"}'] },
]);

describe("label policies from claims", () => {
  it("gives one policy per claim value, escaped, for the tenants the rule grants", () => {
    const g = grantFor({ groups: ["team-a", "a.b"] }, rules);
    expect(readPolicies(g, ["shared"])).toEqual([
      [{ name: "namespace", op: "=~", value: "team-a-.*" }],
      [{ name: "namespace", op: "=~", value: "a\\.b-.*" }],
    ]);
  });

  it("pairs a $value tenant with its own value's policy", () => {
    const g = grantFor({ teams: ["x", "y"] }, rules);
    expect(readPolicies(g, ["x"])).toEqual([
      [
        { name: "team", op: "=", value: "x" },
        { name: "app", op: "!=", value: "billing" },
      ],
    ]);
  });

  it("lets a rule without labels grant the whole tenant", () => {
    expect(readPolicies(grantFor({ groups: ["sre", "team-a"] }, rules), ["shared"])).toBeUndefined();
  });

  it("refuses a multi-tenant read whose tenants have different policies", () => {
    const g = grantFor({ teams: ["x", "y"] }, rules);
    expect(thrownApiError(() => readPolicies(g, ["x", "y"])).status).toBe(403);
  });

  it("reports bad templates and $value without a claim when the configuration loads", () => {
    expect(() => tenants([{ claim: "g", read: ["t"], labels: ['namespace="a" or x="y"'] }])).toThrow(/parse error/);
    expect(() => tenants([{ any: [{ claim: "g" }], read: ["t"], labels: ['ns="$value"'] }])).toThrow(
      /stands for values of the rule's own claim/,
    );
  });
});
