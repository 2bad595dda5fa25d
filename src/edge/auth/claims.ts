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

/** A claim as a list of strings: arrays keep their string items, a string is split on spaces (OAuth "scope"). */
export function claimList(claims: Record<string, unknown>, name: string): string[] {
  const v = getClaim(claims, name);
  if (typeof v === "string") return v.split(" ").filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string" && x !== "");
  return [];
}

export function claimString(claims: Record<string, unknown>, name: string): string | undefined {
  const v = getClaim(claims, name);
  return typeof v === "string" && v !== "" ? v : undefined;
}
