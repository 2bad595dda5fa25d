import { DEFAULT_LIMITS, type FrontendConfig, type Limits } from "../config/schema.js";

/**
 * The limits for a query's tenants. For a multi-tenant query each limit is the strictest of its
 * tenants' (smallest positive; 0 = unlimited loses to any bound), so federation never widens a limit.
 */
export function limitsFor(config: FrontendConfig, tenants: string[]): Limits {
  const per = tenants.map((t) => ({ ...DEFAULT_LIMITS, ...config.limits, ...config.tenant_limits[t] }));
  if (per.length === 1) return per[0]!;
  const base = { ...DEFAULT_LIMITS, ...config.limits };
  if (per.length === 0) return base;
  const strictest = (k: keyof Limits) => {
    const vals = per.map((l) => l[k] as number);
    const positive = vals.filter((v) => v > 0);
    return positive.length ? Math.min(...positive) : 0;
  };
  const out = { ...per[0]! };
  for (const k of Object.keys(base) as (keyof Limits)[]) {
    if (typeof base[k] === "number") (out[k] as number) = strictest(k);
    else (out[k] as boolean) = per.every((l) => l[k]);
  }
  return out;
}
