import {
  DEFAULT_LIMITS,
  type FrontendConfig,
  LOKI_MAX_QUERY_LENGTH,
  type Limits,
  type UserLimits,
} from "../config/schema.js";
import type { Api } from "./types.js";

export interface LimitsScope {
  /** The API asked: Loki's max_query_length defaults to Loki's own 721h. */
  api?: Api;
  /** The user's limits, resolved by the edge from the token's claims: they only tighten the tenants'. */
  user?: UserLimits;
}

/**
 * The limits for a query's tenants and user. Each numeric limit is the strictest of the tenants' and the user's
 * (smallest positive; 0 = unlimited loses to any bound), so neither federation nor a user's rule widens a limit;
 * blocked queries, blocked requests and required labels add up.
 */
export function limitsFor(config: FrontendConfig, tenants: string[], scope: LimitsScope = {}): Limits {
  const defaults =
    scope.api === "loki" ? { ...DEFAULT_LIMITS, max_query_length: LOKI_MAX_QUERY_LENGTH } : DEFAULT_LIMITS;
  const base = { ...defaults, ...config.limits };
  const per: Partial<Limits>[] = tenants.length
    ? tenants.map((t) => ({ ...base, ...config.tenant_limits[t] }))
    : [base];
  const tenantsOnly = per.slice();
  if (scope.user) per.push(scope.user);
  if (per.length === 1) return per[0] as Limits;
  const strictest = (k: keyof Limits) => {
    const positive = per.map((l) => l[k] as number | undefined).filter((v): v is number => v !== undefined && v > 0);
    return positive.length ? Math.min(...positive) : 0;
  };
  const out = { ...base, ...tenantsOnly[0] } as Limits;
  for (const k of Object.keys(base) as (keyof Limits)[]) {
    const v = base[k];
    if (typeof v === "number") (out[k] as number) = strictest(k);
    else if (typeof v === "boolean") (out[k] as boolean) = tenantsOnly.every((l) => l[k]);
  }
  out.blocked_queries = per.flatMap((l) => l.blocked_queries ?? []);
  out.blocked_requests = per.flatMap((l) => l.blocked_requests ?? []);
  out.required_labels = [...new Set(per.flatMap((l) => l.required_labels ?? []))];
  return out;
}
