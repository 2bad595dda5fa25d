import type { EdgeConfig, TenantCondition, UserLimits } from "../config/schema.js";
import { isTenantId, tenantIdProblem } from "../config/tenant-id.js";
import { ApiError, printable } from "../http/errors.js";
import { combinePolicies, type LabelPolicy } from "../policy/policy.js";
import { instantiate, usesClaimValue } from "../policy/template.js";
import { type ClaimValue, claimValues } from "./auth/claims.js";

export type Access = "read" | "write";

/** What a verified user may do, derived from claims by the tenant rules. */
export interface TenantGrant {
  read: Set<string>;
  write: Set<string>;
  federate: boolean;
  defaultTenant?: string;
  /** Tenants some rule lets this user read whole (a rule without labels). */
  wholeRead: Set<string>;
  /** For the other readable tenants, the label policies the rules with labels gave (OR'ed). */
  labels: Map<string, LabelPolicy[]>;
  /** Query limits of the rules that matched: on the tenants each lets read, or on every tenant (undefined). */
  limits: { tenants?: Set<string>; limits: UserLimits }[];
}

export function grantFor(claims: Record<string, unknown>, policy: EdgeConfig["tenants"]): TenantGrant {
  const grant: TenantGrant = {
    read: new Set(),
    write: new Set(),
    federate: false,
    wholeRead: new Set(),
    labels: new Map(),
    limits: [],
  };
  for (const rule of policy.rules) {
    if (!holds(claims, rule)) continue;
    const matched = rule.claim === undefined ? [] : matching(claims, rule.claim, rule.values);
    for (const t of expand(rule.read, matched)) grant.read.add(t);
    for (const t of expand(rule.write, matched)) grant.write.add(t);
    if (rule.labels) addLabels(grant, rule.read, rule.labels, matched);
    else for (const t of expand(rule.read, matched)) grant.wholeRead.add(t);
    if (rule.limits) {
      const read = expand(rule.read, matched);
      grant.limits.push({ tenants: rule.read.length ? new Set(read) : undefined, limits: rule.limits });
    }
    grant.federate ||= rule.federate;
    grant.defaultTenant ??= rule.default;
  }
  grant.defaultTenant ??= policy.default;
  return grant;
}

/** Whether the claims satisfy a condition: every part it gives (claim, all, any) holds. */
export function holds(claims: Record<string, unknown>, c: TenantCondition): boolean {
  return (
    (c.claim === undefined || matching(claims, c.claim, c.values).length > 0) &&
    (c.all === undefined || c.all.every((x) => holds(claims, x))) &&
    (c.any === undefined || c.any.some((x) => holds(claims, x)))
  );
}

// The claim's values among `values`, compared as text (true matches "true", 42 matches "42");
// without `values`, every value but false: `federation: false` is not a grant.
function matching(claims: Record<string, unknown>, claim: string, values?: ClaimValue[]): ClaimValue[] {
  const present = claimValues(claims, claim);
  if (!values) return present.filter((v) => v !== false);
  const wanted = new Set(values.map(String));
  return present.filter((v) => wanted.has(String(v)));
}

// Policies that name "$value" are made once per matched value, for the tenants that value grants (so
// `read: [$value]` with `namespace="$value"` pairs each tenant with its own namespace); values that are
// empty, boolean or not text grant nothing.
function addLabels(grant: TenantGrant, read: string[], labels: LabelPolicy[], matched: ClaimValue[]): void {
  const add = (tenants: string[], policies: LabelPolicy[]) => {
    for (const t of tenants) grant.labels.set(t, [...(grant.labels.get(t) ?? []), ...policies]);
  };
  add(
    expand(read, matched),
    labels.filter((p) => !usesClaimValue(p)),
  );
  const templates = labels.filter(usesClaimValue);
  if (templates.length === 0) return;
  for (const v of matched) {
    if (typeof v === "boolean") continue;
    const made = templates.map((p) => instantiate(p, String(v))).filter((p): p is LabelPolicy => p !== undefined);
    add(expand(read, [v]), made);
  }
}

/**
 * The label policies of a read over `tenants`: undefined when every tenant is readable whole. A
 * multi-tenant read is allowed under policies only when each tenant has the same ones: a query
 * cannot be restricted differently per tenant.
 */
export function readPolicies(grant: TenantGrant, tenants: readonly string[]): LabelPolicy[] | undefined {
  const per = tenants.map((t) => (grant.wholeRead.has(t) ? undefined : (grant.labels.get(t) ?? [])));
  if (per.every((p) => p === undefined)) return undefined;
  const key = (p: LabelPolicy[] | undefined) => (p === undefined ? "whole" : JSON.stringify(combinePolicies(p)));
  if (per.some((p) => key(p) !== key(per[0])))
    throw new ApiError(
      "forbidden",
      `X-Scope-OrgID: your label policies differ between the tenants ${tenants.join("|")}; query them one at a time`,
    );
  return per[0]!;
}

// "$value" grants each matching string or number that is a valid tenant ID; anything else grants nothing.
function expand(templates: string[], matched: ClaimValue[]): string[] {
  const ids = matched.filter((v) => typeof v !== "boolean").map(String);
  return templates.flatMap((t) => (t === "$value" ? ids.filter(isTenantId) : [t]));
}

const MAX_LISTED = 10;
const list = (tenants: Iterable<string>) => {
  const all = [...tenants].sort();
  if (all.length <= MAX_LISTED) return all.join(", ");
  return `${all.slice(0, MAX_LISTED).join(", ")}, … (${all.length} in all)`;
};

/**
 * The tenants of this request: the client's X-Scope-OrgID when every tenant in it is allowed,
 * otherwise the default. Throws 400 for malformed IDs, 403 for tenants the user may not use.
 */
export function resolveTenants(header: string | null, grant: TenantGrant, access: Access): string[] {
  const allowed = access === "read" ? grant.read : grant.write;
  if (allowed.size === 0)
    throw new ApiError("forbidden", `your token grants no tenant to ${access}; ask an administrator for access`);

  if (header === null || header.trim() === "") {
    const def =
      grant.defaultTenant && allowed.has(grant.defaultTenant)
        ? grant.defaultTenant
        : allowed.size === 1
          ? [...allowed][0]!
          : undefined;
    if (!def)
      throw new ApiError("bad_data", `send X-Scope-OrgID to choose a tenant; you may ${access}: ${list(allowed)}`);
    return [def];
  }

  const tenants = [...new Set(header.split("|").map((t) => t.trim()))];
  for (const t of tenants) {
    const problem = tenantIdProblem(t);
    if (problem) throw new ApiError("bad_data", `X-Scope-OrgID: ${printable(problem)}`);
  }
  if (tenants.length > 1 && access === "write")
    throw new ApiError("bad_data", "X-Scope-OrgID: a write goes to exactly one tenant");
  if (tenants.length > 1 && !grant.federate)
    throw new ApiError(
      "forbidden",
      `X-Scope-OrgID: multi-tenant queries (${printable(tenants.join("|"))}) are not allowed for you`,
    );
  for (const t of tenants)
    if (!allowed.has(t))
      throw new ApiError(
        "forbidden",
        `X-Scope-OrgID: you may not ${access} tenant "${t}"; you may ${access}: ${list(allowed)}`,
      );
  return tenants.sort();
}
