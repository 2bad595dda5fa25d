/** Reads a claim by name; dots reach into objects (Keycloak's "realm_access.roles"). */
export function getClaim(claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name];
  let v: unknown = claims;
  for (const part of name.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

export type ClaimValue = string | number | boolean;

const isValue = (x: unknown): x is ClaimValue =>
  (typeof x === "string" && x !== "") || typeof x === "boolean" || (typeof x === "number" && Number.isFinite(x));

/**
 * A claim as a list of values: a string is split on spaces (OAuth "scope"), an array keeps its
 * string, number and boolean items, a number or boolean is itself; anything else is no value.
 */
export function claimValues(claims: Record<string, unknown>, name: string): ClaimValue[] {
  const v = getClaim(claims, name);
  if (typeof v === "string") return v.split(" ").filter(Boolean);
  if (Array.isArray(v)) return v.filter(isValue);
  return isValue(v) ? [v] : [];
}

/** The string values of a claim (groups, scopes). */
export function claimList(claims: Record<string, unknown>, name: string): string[] {
  return claimValues(claims, name).filter((x): x is string => typeof x === "string");
}

export function claimString(claims: Record<string, unknown>, name: string): string | undefined {
  const v = getClaim(claims, name);
  return typeof v === "string" && v !== "" ? v : undefined;
}
