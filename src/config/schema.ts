import { z } from "zod";
import { natsConnection, type NatsConnectionConfig } from "./common.js";
import { type actor, type condition, edge, type issuer, type tenantRule } from "./edge-schema.js";
import { frontend, type membership } from "./frontend-schema.js";
import { signedIdentity } from "./identity-schema.js";
import { routesSchema } from "./routes.js";
import { crossSectionRules } from "./rules.js";
import { demo, log, runtimeConfig, server, status } from "./server-schema.js";

// The whole config, section by section (each in its own file under src/config/); the rules that look at two
// sections at once are in rules.ts, the deprecated keys in aliases.ts. Everybody imports the config from here.

export { ASYMMETRIC_ALGORITHMS } from "./edge-schema.js";
export type { NatsConnectionConfig } from "./common.js";
export {
  type BlockedQuery,
  type BlockedRequest,
  DEFAULT_LIMITS,
  type Limits,
  type LimitsOverride,
  LOKI_MAX_QUERY_LENGTH,
  type UserLimits,
} from "./limits-schema.js";
export { type RuntimeOverrides, runtimeSchema } from "./runtime-schema.js";

const sections = z
  .object({
    server,
    demo,
    log,
    status,
    runtime_config: runtimeConfig.optional(),
    identity: signedIdentity.optional(),
    routes: routesSchema,
    // One NATS for the replicas' membership and the async queries' store: the loader copies it to both.
    nats: natsConnection.optional(),
    edge: edge.optional(),
    frontend: frontend.optional(),
  })
  .strict();

/** Each section by its own schema, then the rules that span sections (rules.ts). */
export const configSchema = sections.transform(crossSectionRules);

/** The config as its sections parse it, before the shared nats block is copied into them. */
export type ParsedConfig = z.infer<typeof sections>;

/** A replica's membership, with the NATS it meets the others in (from the top-level nats block). */
export type MembershipConfig = Omit<z.infer<typeof membership>, "nats"> & { nats: NatsConnectionConfig };
export type FrontendConfig = Omit<z.infer<typeof frontend>, "membership"> & { membership?: MembershipConfig };
/** The config as the loader hands it out. */
export type Config = Omit<ParsedConfig, "frontend"> & { frontend?: FrontendConfig };
export type EdgeConfig = z.infer<typeof edge>;
export type IssuerConfig = z.infer<typeof issuer>;
export type TenantRule = z.infer<typeof tenantRule>;
export type TenantCondition = z.infer<typeof condition>;
export type ActorConfig = z.infer<typeof actor>;
export type SignedIdentityConfig = z.infer<typeof signedIdentity>;
export type ActorDirectoryConfig = Config["status"]["actor_directory"];
