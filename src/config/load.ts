import { parse as parseYaml, YAMLParseError } from "yaml";
import type { z } from "zod";
import { resolveAliases } from "./aliases.js";
import { configSchema, type Config } from "./schema.js";

/** Every problem in a config, one line each, by path: `edge.issuers[0].audiences: required`. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

/** Expands ${VAR} and ${VAR:-default}; a missing variable without default is a problem, not an empty string. */
export function expandEnv(text: string, env: Env): { text: string; problems: string[] } {
  const problems: string[] = [];
  const out = text.split("\n").map((line, i) =>
    line.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def?: string) => {
      const v = env[name];
      if (v !== undefined && v !== "") return v;
      if (def !== undefined) return def;
      problems.push(`line ${i + 1}: environment variable ${name} is not set`);
      return "";
    }),
  );
  return { text: out.join("\n"), problems };
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)),
    "",
  );
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => {
    // A cross-section rule's message that names its keys itself (rules.ts).
    if (i.code === "custom" && i.params?.whole) return i.message;
    const path = formatPath(i.path) || "(top level)";
    if (i.code === "invalid_type" && i.input === undefined) return `${path}: required`;
    if (i.code === "unrecognized_keys")
      return `${path}: unknown key${i.keys.length > 1 ? "s" : ""} ${i.keys.join(", ")}`;
    return `${path}: ${i.message}`;
  });
}

/** A validated config, and a warning for each deprecated key it uses (aliases.ts), for the caller to log. */
export type Loaded = { config: Config; warnings: string[] };

export function loadConfig(raw: unknown): Loaded {
  const { value, warnings } = resolveAliases(raw ?? {});
  // reportInput: a missing key ("required") and a value of the wrong type get different messages.
  const r = configSchema.safeParse(value, { reportInput: true });
  if (!r.success) throw new ConfigError(formatIssues(r.error.issues));
  return { config: r.data, warnings };
}

export const parseConfig = (value: unknown): Config => loadConfig(value).config;

/**
 * YAML text with ${ENV} expanded, and the variables that could not be: the config and the runtime file read alike.
 * Text that is not YAML throws, with those problems too.
 */
export function readYaml(text: string, env: Env): { value: unknown; problems: string[] } {
  const { text: expanded, problems } = expandEnv(text, env);
  try {
    return { value: parseYaml(expanded), problems };
  } catch (e) {
    throw new ConfigError([...problems, `YAML: ${e instanceof YAMLParseError ? e.message : String(e)}`]);
  }
}

/** YAML text (with ${ENV} expansion) to a validated config, and its deprecation warnings. */
export function loadConfigText(text: string, env: Env): Loaded {
  const { value, problems } = readYaml(text, env);
  if (problems.length) {
    // Report the schema's problems too, so one run shows everything.
    try {
      loadConfig(value);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError([...problems, ...e.problems]);
    }
    throw new ConfigError(problems);
  }
  return loadConfig(value);
}

export const parseConfigText = (text: string, env: Env): Config => loadConfigText(text, env).config;
