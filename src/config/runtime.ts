import { ConfigError, formatIssues, readYaml } from "./load.js";
import { type Config, type RuntimeOverrides, runtimeSchema } from "./schema.js";

type Env = Record<string, string | undefined>;

/** The sections a runtime file may hold, as "edge.tenants", for messages. */
export const RUNTIME_SECTIONS: string[] = Object.entries(runtimeSchema.shape).flatMap(([top, section]) =>
  Object.keys(section.unwrap().shape).map((key) => `${top}.${key}`),
);

/** A runtime file's text (YAML, ${ENV} expanded) to its overrides; an empty file overrides nothing. */
export function parseRuntimeText(text: string, env: Env): RuntimeOverrides {
  const { value, problems } = readYaml(text, env);
  const r = runtimeSchema.safeParse(value ?? {}, { reportInput: true });
  const found = r.success ? [] : formatIssues(r.error.issues).map(explainUnknown);
  if (problems.length || found.length) throw new ConfigError([...problems, ...found]);
  return r.data!;
}

// Anything else in a runtime file is read at start only: say so, not just "unknown key".
function explainUnknown(problem: string): string {
  return /: unknown keys? /.test(problem)
    ? `${problem} (a runtime file holds only ${RUNTIME_SECTIONS.join(", ")}; restart to change the rest)`
    : problem;
}

/**
 * The config with the runtime file's sections in place of its own. A section of a part this process does not run
 * (edge.tenants in a frontend) is left out: one runtime file may serve every process of a deployment.
 */
export function withOverrides(base: Config, overrides: RuntimeOverrides): Config {
  const out: Record<string, unknown> = { ...base };
  for (const [part, sections] of Object.entries(overrides)) {
    const current = out[part] as Record<string, unknown> | undefined;
    if (current && sections) out[part] = { ...current, ...sections };
  }
  return out as Config;
}

/** The sections a runtime file gave, that this config runs ("edge.tenants"): what a reload changed. */
export function appliedSections(base: Config, overrides: RuntimeOverrides): string[] {
  return Object.entries(overrides).flatMap(([part, sections]) =>
    base[part as keyof Config] && sections ? Object.keys(sections).map((k) => `${part}.${k}`) : [],
  );
}
