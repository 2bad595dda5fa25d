import type { UserLimits } from "../config/schema.js";
import type { TenantGrant } from "./tenant.js";

/**
 * The user's limits for a query of `tenants`: those of every matching rule that names one of them (or names no
 * tenant), each limit the strictest given (smallest positive), lists (blocked queries, required labels) added up. Undefined when no rule
 * gives limits: the tenants' alone apply.
 */
export function userLimitsFor(grant: TenantGrant, tenants: readonly string[]): UserLimits | undefined {
  const applying = grant.limits
    .filter((l) => l.tenants === undefined || tenants.some((t) => l.tenants!.has(t)))
    .map((l) => l.limits);
  if (applying.length === 0) return undefined;
  const out: UserLimits = {};
  for (const limits of applying)
    for (const [key, value] of Object.entries(limits) as [keyof UserLimits, UserLimits[keyof UserLimits]][]) {
      if (Array.isArray(value)) (out[key] as unknown[]) = [...((out[key] as unknown[] | undefined) ?? []), ...value];
      else if (typeof value === "number" && value > 0) {
        const before = out[key] as number | undefined;
        (out[key] as number) = before === undefined ? value : Math.min(before, value);
      }
    }
  return out;
}
