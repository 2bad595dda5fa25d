// Loki's tenant ID rules (pkg/util/validation): at most 150 characters from [a-zA-Z0-9!-_.*'()],
// and not "." or "..". Mimir uses the same rules.
const TENANT_ID = /^[a-zA-Z0-9!\-_.*'()]{1,150}$/;

export function tenantIdProblem(id: string): string | undefined {
  if (id.length === 0) return "tenant ID is empty";
  if (id.length > 150) return `tenant ID is longer than 150 characters (${id.length})`;
  if (id === "." || id === "..") return `tenant ID "${id}" is not allowed`;
  if (!TENANT_ID.test(id)) return `tenant ID ${JSON.stringify(id)} has characters outside [a-zA-Z0-9!-_.*'()]`;
  return undefined;
}

export const isTenantId = (id: string): boolean => tenantIdProblem(id) === undefined;
