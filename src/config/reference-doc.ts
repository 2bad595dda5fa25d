import { referenceMarkdown } from "./reference.js";
import { configSchema, DEFAULT_LIMITS } from "./schema.js";

/** The text of docs/configuration.md: the whole config schema, with the limits' built-in defaults. */
export const configReference = (): string =>
  referenceMarkdown(configSchema, {
    "frontend.limits": DEFAULT_LIMITS,
    "frontend.tenant_limits.<name>": DEFAULT_LIMITS,
  });
