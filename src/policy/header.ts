// X-Prom-Label-Policy, for an upstream that enforces label policies itself (defence in depth): one
// "<tenant>:<path-escaped selector>" per policy, comma-separated; the upstream ORs a tenant's policies.
import { combinePolicies, type LabelPolicy, policyText } from "./policy.js";

export const LABEL_POLICY_HEADER = "x-prom-label-policy";

/** The header's value; undefined when no tenant of the request is restricted. */
export function labelPolicyHeader(perTenant: ReadonlyMap<string, readonly LabelPolicy[]>): string | undefined {
  const parts: string[] = [];
  for (const [tenant, policies] of perTenant)
    for (const p of combinePolicies(policies))
      if (p.length > 0) parts.push(`${tenant}:${encodeURIComponent(policyText(p))}`);
  return parts.length ? parts.join(",") : undefined;
}
