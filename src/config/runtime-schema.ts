import { z } from "zod";
import { tenants } from "./edge-schema.js";
import { limitsOverride } from "./limits-schema.js";

/**
 * What a runtime file (runtime_config) may hold: the config's per-tenant sections, each by the config's own schema,
 * so whatever is added inside them reloads too. A section given replaces the config's; one left out keeps it.
 */
export const runtimeSchema = z
  .object({
    edge: z.object({ tenants }).partial().strict().optional(),
    frontend: z
      .object({ limits: limitsOverride, tenant_limits: z.record(z.string(), limitsOverride) })
      .partial()
      .strict()
      .optional(),
  })
  .strict();

export type RuntimeOverrides = z.infer<typeof runtimeSchema>;
