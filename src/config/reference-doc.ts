import { ALIASES } from "./aliases.js";
import { referenceMarkdown } from "./reference.js";
import { configSchema, DEFAULT_LIMITS } from "./schema.js";

/** The text of docs/configuration.md: the whole config schema, with the limits' built-in defaults and the deprecated keys. */
export const configReference = (): string =>
  referenceMarkdown(
    configSchema,
    {
      "frontend.limits": DEFAULT_LIMITS,
      "frontend.tenant_limits.<name>": DEFAULT_LIMITS,
    },
    ALIASES,
  );
