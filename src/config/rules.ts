import type { z } from "zod";
import { exposureProblems } from "./exposure.js";
import type { Config, ParsedConfig } from "./schema.js";

/**
 * Every rule that looks at two sections at once, in one place: the schema runs it after each section has passed
 * its own checks (configSchema's last step), and it copies the shared top-level nats block to where it is read.
 * A problem's path is where to fix it; `whole` problems (exposure.ts's) already name their keys.
 */
export function crossSectionRules(c: ParsedConfig, ctx: z.RefinementCtx): Config {
  // zod lets an unknown key through to here: the sections are not all valid yet, so there is nothing to cross.
  if (ctx.issues.length) return c as Config;
  const problem = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });
  if (!c.edge && !c.frontend) problem([], "configure edge, frontend, or both");
  identityRules(c, problem);
  for (const message of exposureProblems(c.server, c.demo.enabled))
    ctx.addIssue({ code: "custom", path: [], message, params: { whole: true } });
  actorDepthRule(c, problem);
  return sharedNats(c, problem);
}

type Problem = (path: PropertyKey[], message: string) => void;

// The identity header is signed by the edge and verified by the frontend: a secret, or one half of a key pair each.
function identityRules({ identity }: ParsedConfig, problem: Problem): void {
  if (identity && !identity.secret && !identity.private_jwk && !identity.public_jwk)
    problem(["identity"], "set secret, or private_jwk (edge) / public_jwk (frontend)");
  if (identity?.secret && (identity.private_jwk || identity.public_jwk))
    problem(["identity"], "use either secret or a key pair, not both");
}

/**
 * The actor path the edge writes must fit the frontend's queue (Loki's max_queue_hierarchy_levels): deeper, and
 * the frontend refuses every query of those actors with 400. Checked when one config runs both.
 */
function actorDepthRule({ edge, frontend }: ParsedConfig, problem: Problem): void {
  if (!edge || !frontend) return;
  const max = frontend.queue.max_queue_hierarchy_levels;
  for (const key of ["user_path", "service_path"] as const) {
    const levels = edge.actor[key].split("|").length;
    if (levels > max)
      problem(
        ["edge", "actor", key],
        `has ${levels} levels, more than frontend.queue.max_queue_hierarchy_levels (${max}): the frontend would ` +
          "refuse these actors' queries with 400; shorten the path or raise max_queue_hierarchy_levels",
      );
  }
}

/**
 * One NATS for the whole deployment: the top-level nats block goes to membership and the async store, where
 * they read it. Their own (deprecated) blocks, when given, still win there.
 */
function sharedNats(c: ParsedConfig, problem: Problem): Config {
  const f = c.frontend;
  if (!f) return c as Config;
  const membershipNats = f.membership?.nats ?? c.nats;
  if (f.membership && !membershipNats)
    problem(["nats"], "required when frontend.membership is set (the replicas find each other in NATS)");
  const asyncNats = f.async.nats ?? c.nats;
  if (f.async.store === "nats" && !asyncNats)
    problem(["frontend", "async", "nats"], "required when store is nats: give the top-level nats block");
  return {
    ...c,
    frontend: {
      ...f,
      async: { ...f.async, ...(asyncNats && { nats: asyncNats }) },
      ...(f.membership && membershipNats && { membership: { ...f.membership, nats: membershipNats } }),
    },
  } as Config;
}
