// Cloudflare Workers entry. The config is YAML in the FAIRGATE_CONFIG var; ${NAME} in it expands
// from the Worker's vars and secrets (wrangler secret put NAME), so secrets never sit in wrangler.toml.
import type { Hono } from "hono";
import { ConfigError, loadConfigText } from "../config/load.js";
import { createEdgeApp } from "./app.js";

type Env = Record<string, unknown> & { FAIRGATE_CONFIG?: string };

let built: { app?: Hono; error?: string } | undefined;

/**
 * Workers keep what a Worker writes to the console (Workers Logs, `wrangler tail`): it is the logger there, as
 * pino is on Node (which does not run on Workers). Unexpected errors and a broken config are written as errors.
 */
const workersLog = (fields: Record<string, unknown>): void => {
  if (fields.error) console.error(fields.error);
  if (fields.warning) console.warn(fields.warning);
};

function build(env: Env): { app?: Hono; error?: string } {
  try {
    if (typeof env.FAIRGATE_CONFIG !== "string")
      throw new ConfigError(["FAIRGATE_CONFIG: required (the fairgate YAML config)"]);
    const strings = Object.fromEntries(
      Object.entries(env).filter((e): e is [string, string] => typeof e[1] === "string"),
    );
    const { config, warnings } = loadConfigText(env.FAIRGATE_CONFIG, strings);
    for (const warning of warnings) workersLog({ warning: `config: ${warning}` });
    if (!config.edge) throw new ConfigError(["edge: required on Workers"]);
    if (!config.edge.upstream.read_url)
      throw new ConfigError(["edge.upstream.read_url: required on Workers (the frontend's URL)"]);
    const { app } = createEdgeApp(
      config.edge,
      {
        clientIp: (req) => req.headers.get("cf-connecting-ip") ?? undefined,
        bodiesDecoded: false,
        observe: workersLog,
        // Workers pass a WebSocket through when the upstream fetch carries the Upgrade header.
        tail: async (a) => {
          const headers = a.headers.toHeaders();
          headers.set("upgrade", "websocket");
          return fetch(a.target!, { headers });
        },
      },
      config.identity,
      config.routes,
    );
    return { app };
  } catch (e) {
    return { error: e instanceof ConfigError ? e.message : `configuration failed: ${String(e)}` };
  }
}

export default {
  fetch(req: Request, env: Env, ctx: unknown): Response | Promise<Response> {
    built ??= build(env);
    if (built.error) {
      workersLog({ error: built.error });
      return new Response(`fairgate edge is misconfigured:\n${built.error}\n`, { status: 500 });
    }
    return built.app!.fetch(req, env, ctx as never);
  },
};
