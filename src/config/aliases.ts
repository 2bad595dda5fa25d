/**
 * Deprecated keys: still read, each with a warning at load naming its replacement. A renamed key is moved to its
 * new name before the schema reads the config, so the parsed result is the same; a deprecated block the schema
 * still reads (a section's own nats) keeps applying there.
 */
export type Alias = { key: string; use: string; renamed: boolean };

export const ALIASES: readonly Alias[] = [
  { key: "frontend.async.workers", use: "frontend.async.job_workers", renamed: true },
  { key: "frontend.membership.nats", use: "nats (the top-level block, shared)", renamed: false },
  { key: "frontend.async.nats", use: "nats (the top-level block, shared)", renamed: false },
];

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === "object" && v !== null && !Array.isArray(v);

/** The raw config with renamed keys moved to their new names (the input is not changed), and one warning each. */
export function resolveAliases(raw: unknown): { value: unknown; warnings: string[] } {
  const warnings: string[] = [];
  let value = raw;
  for (const alias of ALIASES) {
    const path = alias.key.split(".");
    const name = path.pop()!;
    const parent = path.reduce<unknown>((node, k) => (isTree(node) ? node[k] : undefined), value);
    if (!isTree(parent) || !(name in parent)) continue;
    const to = alias.use.split(".").pop()!;
    const both = alias.renamed && to in parent ? ` (${to} is given too: ${name} is ignored)` : "";
    warnings.push(`${alias.key} is deprecated: use ${alias.use}${both}`);
    if (alias.renamed) value = rename(value, path, name, to);
  }
  return { value, warnings };
}

// A copy of `tree` with the key at path.name moved to path.to; given both names, the new one wins.
function rename(tree: unknown, path: string[], name: string, to: string): unknown {
  if (!isTree(tree)) return tree;
  const [head, ...rest] = path;
  if (head !== undefined) return { ...tree, [head]: rename(tree[head], rest, name, to) };
  const { [name]: old, ...others } = tree;
  return { [to]: old, ...others };
}
