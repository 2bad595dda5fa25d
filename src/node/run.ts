import { Hono } from "hono";
import type pino from "pino";
import { WebSocketServer } from "ws";
import { ConfigError } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { demoIssuer } from "../demo/issuer.js";
import { demoQuerier } from "../demo/querier.js";
import { RequestLog } from "../observability/requests.js";
import { adminApp } from "./admin-listener.js";
import { type Mode, wireAll, wireEdge, wireFrontend } from "./modes.js";
import { RuntimeConfig } from "./runtime-config.js";
import { listen, type Listener } from "./server.js";
import { readTls } from "./tls.js";

export type { Mode } from "./modes.js";

export interface Running extends Listener {
  mode: Mode;
  adminUrl?: string;
  /**
   * SIGHUP: reads server.tls's files again for new connections, and the runtime file (runtime_config); a line for
   * each saying what it did. A file that cannot be used keeps what is in force, and its line says why.
   */
  reload(): { ok: boolean; line: string }[];
  /** The answer to /healthz or /ready, asked in this process (the admin listener's, and a cluster primary's). */
  probe(path: "/healthz" | "/ready"): Promise<Response>;
}

/** What each mode needs of the config; throws ConfigError listing every problem. */
export function requireFor(mode: Mode, config: Config): void {
  const problems: string[] = [];
  if (mode !== "frontend" && !config.edge) problems.push(`edge: required to run ${mode}`);
  if (mode !== "edge" && !config.frontend) problems.push(`frontend: required to run ${mode}`);
  if (mode === "edge" && config.edge && !config.edge.upstream.read_url)
    problems.push("edge.upstream.read_url: required when the edge runs alone (the frontend's URL)");
  if (mode === "edge" && config.edge && !config.identity)
    problems.push("identity: required when the edge runs alone, to sign the identity it hands the frontend");
  if (mode === "frontend" && !config.identity)
    problems.push("identity: required when the frontend runs alone, to verify the edge's signed identity");
  if (config.server.workers > 1 && mode !== "edge")
    problems.push(
      `server.workers: above 1 only for \`fairgate edge\` (the frontend's fair queue lives in one process), not ${mode}`,
    );
  if (problems.length) throw new ConfigError(problems);
}

/** Starts fairgate on Node: one listener, the edge and/or the frontend behind it (modes.ts wires each mode). */
export async function run(
  config: Config,
  mode: Mode,
  opts: { logDestination?: pino.DestinationStream } = {},
): Promise<Running> {
  requireFor(mode, config);
  const startedAt = Date.now();
  const requests = new RequestLog({
    level: config.log.level,
    slowQueryMs: config.log.slow_query,
    destination: opts.logDestination,
  });
  // Before anything starts: a bad runtime file is a start-up error, as a bad config is.
  const runtime = config.runtime_config ? new RuntimeConfig(config, requests.logger) : undefined;
  const top = new Hono();
  top.use("*", requests.middleware());
  const wss = new WebSocketServer({ noServer: true });

  const tls = config.server.tls;
  const tlsOptions = tls ? readTls(tls) : undefined; // before anything starts: a bad file is a start-up error
  const base = `${tls ? "https" : "http"}://${config.server.listen}`;
  if (config.demo.enabled) {
    top.route("/demo/oidc", await demoIssuer(`${base}/demo/oidc`));
    top.route("/demo/querier", demoQuerier());
  }
  const shell = { top, wss, requests, runtime, base };
  const { onUpgrade, frontend, edgeShell } =
    mode === "frontend"
      ? await wireFrontend(config, shell)
      : mode === "edge"
        ? wireEdge(config, shell)
        : wireAll(config, shell);

  const listener = await listen(edgeShell ? { node: edgeShell.listener } : top.fetch, config.server.listen, onUpgrade, {
    tls: tlsOptions,
    maxHeaderBytes: config.routes.max_header_bytes,
  });
  let draining = false;
  // The same answers as on the main listener (asked in-process); not ready while draining.
  const probe = async (path: "/healthz" | "/ready") =>
    path === "/ready" && draining
      ? new Response("not ready: shutting down\n", { status: 503 })
      : top.fetch(new Request(`${base}${path}`));
  const adminRoutes = adminApp(config.status, { mode, startedAt, requests, frontend, runtime, probe });
  const admin = config.server.admin_listen
    ? await listen(adminRoutes.app.fetch, config.server.admin_listen).catch(async (e: unknown) => {
        await listener.close(0);
        throw e;
      })
    : undefined;
  return {
    ...listener,
    mode,
    adminUrl: admin?.url,
    probe,
    reload: () => {
      const lines: { ok: boolean; line: string }[] = [];
      if (tls)
        try {
          listener.setSecureContext!(readTls(tls));
          lines.push({ ok: true, line: `reloaded ${tls.cert_file} and ${tls.key_file}` });
        } catch (e) {
          lines.push({ ok: false, line: `${(e as Error).message}; still serving the previous certificate` });
        }
      if (runtime) lines.push(runtime.reload("SIGHUP"));
      return lines.length ? lines : [{ ok: true, line: "nothing to reload (no server.tls, no runtime_config)" }];
    },
    // In-flight requests drain first; the admin listener stays up meanwhile, so the drain can be watched.
    close: async (graceMs) => {
      draining = true;
      // Tenants move to the other replicas first; the sub-queries already here are still answered.
      await frontend?.drain();
      for (const client of wss.clients) client.terminate();
      adminRoutes.close();
      runtime?.close();
      await listener.close(graceMs);
      await edgeShell?.close();
      await frontend?.close();
      await admin?.close(1000);
    },
  };
}
