import { Hono } from "hono";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { Config } from "../config/schema.js";
import { demoIssuer } from "../demo/issuer.js";
import { demoQuerier } from "../demo/querier.js";
import { createEdgeApp } from "../edge/app.js";
import { createFrontend } from "../frontend/app.js";
import { querierHeaders } from "../frontend/dispatch/headers.js";
import { identityOf } from "../frontend/identity.js";
import { ApiError } from "../http/errors.js";
import { upstreamUrl } from "../http/forward.js";
import { identityVerifier } from "../identity/identity.js";
import { ConfigError } from "../config/load.js";
import { listen, remoteAddress, type Listener } from "./server.js";
import { readTls } from "./tls.js";
import { RequestLog } from "../observability/requests.js";
import { statusPage } from "../observability/status-page.js";
import { packageVersion, statusAssets } from "../observability/status-assets.js";
import { StatusHistory } from "../observability/status-history.js";
import cluster from "node:cluster";
import { createHash } from "node:crypto";
import { AggregatorRegistry, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type pino from "pino";
import { upstreamFetch } from "./upstream-fetch.js";
import { RuntimeConfig } from "./runtime-config.js";
import { ActorDirectory } from "../observability/actor-directory.js";
import { edgeServer, type EdgeServer } from "./edge-server.js";
import { proxyWebSocket, rejectWithError, upgradeRequest } from "./websocket-proxy.js";

export type Mode = "all" | "edge" | "frontend";

const TAIL = "/loki/api/v1/tail";

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

/** Starts fairgate on Node: one listener, the edge and/or the frontend behind it. */
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
  let onUpgrade: ((req: IncomingMessage, socket: Duplex, head: Buffer) => Promise<void>) | undefined;

  const tls = config.server.tls;
  const tlsOptions = tls ? readTls(tls) : undefined; // before anything starts: a bad file is a start-up error
  const base = `${tls ? "https" : "http"}://${config.server.listen}`;
  if (config.demo.enabled) {
    top.route("/demo/oidc", await demoIssuer(`${base}/demo/oidc`));
    top.route("/demo/querier", demoQuerier());
  }

  const verifyIdentity = mode === "frontend" && config.identity ? await identityVerifier(config.identity) : undefined;
  const names = config.status.actor_directory;
  const frontend =
    config.frontend && mode !== "edge"
      ? createFrontend(config.frontend, {
          verifyIdentity,
          routes: config.routes,
          observe: requests.observe,
          log: (line) => requests.logger.warn(line),
          recentMs: config.status.recent,
          // The demo querier is answered in this process: a draining listener takes no new connections,
          // and the queries in flight must still reach it.
          querierFetch: config.demo.enabled ? inProcess(`${base}/demo/querier`, top.fetch) : undefined,
          live: runtime && (() => runtime.current.frontend!),
          logQueryStats: (line) => requests.logger.info(line, "query stats"),
          directory: names.enabled ? new ActorDirectory(names.max_actors) : undefined,
        })
      : undefined;
  const frontendTail = config.frontend?.tail_url ?? config.frontend?.queriers[0]?.url;
  // The edge alone is served by node:http and undici directly (src/node/edge-server.ts); co-deployed with the
  // frontend, or with the demo's routes, by the Hono app. Both shells take their decisions from the same Edge.
  let edgeShell: EdgeServer | undefined;

  if (mode === "frontend") {
    top.route("/", frontend!.app);
    onUpgrade = async (req, socket, head) => {
      const path = req.url ?? "/";
      try {
        const request = upgradeRequest(req);
        const identity = await identityOf(request, undefined, verifyIdentity);
        if (new URL(request.url).pathname !== TAIL)
          throw new ApiError("not_found", "only /loki/api/v1/tail takes a WebSocket");
        proxyWebSocket(
          wss,
          req,
          socket,
          head,
          upstreamUrl(frontendTail!, TAIL, new URL(request.url).search),
          querierHeaders(request, identity),
        );
      } catch (e) {
        await rejectWithError(socket, e, path);
      }
    };
  } else {
    // The replicas' internal route, ahead of the edge (whose route policy knows no such route).
    if (frontend?.cluster) top.route("/", frontend.cluster.routes);
    const { app, edge } = createEdgeApp(
      config.edge!,
      {
        clientIp: (_req, env) => remoteAddress(env),
        bodiesDecoded: false, // upstreamFetch hands bodies on as the upstream encoded them
        fetch: upstreamFetch,
        observe: requests.observe,
        tokenDigest: (text) => createHash("sha256").update(text).digest("hex"),
        inProcessRead: frontend ? (req, identity) => Promise.resolve(frontend.app.fetch(req, { identity })) : undefined,
        // Co-deployed, the edge is ready only while the frontend can reach a querier (queries get 503 otherwise).
        notReady: frontend ? () => frontend.pool.notReady() : undefined,
        live: runtime && (() => runtime.current.edge!),
        actorDirectory: names.enabled ? { claim: names.claim } : undefined,
      },
      mode === "edge" ? config.identity : undefined,
      config.routes,
    );
    top.route("/", app);
    if (mode === "edge" && !config.demo.enabled)
      edgeShell = edgeServer({ edge, config: config.edge!, requests, scheme: tls ? "https" : "http" });
    onUpgrade = async (req, socket, head) => {
      const path = req.url ?? "/";
      try {
        const admitted = await edge.admit(upgradeRequest(req), req.socket.remoteAddress);
        // Co-deployed, the tail goes straight to the frontend's tail URL with the headers the edge set.
        const target = admitted.target ?? (frontendTail ? upstreamUrl(frontendTail, TAIL, admitted.search) : undefined);
        if (admitted.kind !== "tail" || !target)
          throw new ApiError("not_found", "only /loki/api/v1/tail takes a WebSocket");
        proxyWebSocket(wss, req, socket, head, target, admitted.headers);
      } catch (e) {
        await rejectWithError(socket, e, path);
      }
    };
  }

  const listener = await listen(edgeShell ? { node: edgeShell.listener } : top.fetch, config.server.listen, onUpgrade, {
    tls: tlsOptions,
    maxHeaderBytes: config.routes.max_header_bytes,
  });
  let draining = false;
  // The admin listener: operators' routes, and every metric of this process.
  const adminApp = new Hono();
  const processMetrics = new Registry();
  collectDefaultMetrics({ register: processMetrics }); // memory, CPU, event-loop lag, handles, GC
  const registries = [
    processMetrics,
    requests.registry,
    ...(frontend ? [frontend.metrics.registry] : []),
    ...(runtime ? [runtime.registry] : []),
  ];
  // A cluster worker's metrics are read by the primary, which serves them all on its admin listener.
  // (prom-client answers the primary's requests once an AggregatorRegistry exists in the worker.)
  if (cluster.isWorker) {
    const workers = new Gauge({
      name: "fairgate_workers",
      help: "Worker processes serving the listener (server.workers); the primary's /metrics adds them up.",
      registers: [processMetrics],
    });
    workers.set(1);
    AggregatorRegistry.setRegistries(registries);
    new AggregatorRegistry();
  }
  adminApp.get("/metrics", async (c) => {
    const all = Registry.merge(registries);
    return c.body(await all.metrics(), 200, { "content-type": all.contentType });
  });
  // The same answers as on the main listener (asked in-process); not ready while draining.
  const probe = async (path: "/healthz" | "/ready") =>
    path === "/ready" && draining
      ? new Response("not ready: shutting down\n", { status: 503 })
      : top.fetch(new Request(`${base}${path}`));
  adminApp.get("/healthz", () => probe("/healthz"));
  adminApp.get("/ready", () => probe("/ready"));
  // The status page polls the frontend's /debug/status and everyone's /debug/history; without a frontend it says so.
  const history = new StatusHistory(
    { windowMs: config.status.charts, intervalMs: config.status.sample_every },
    requests,
    frontend?.metrics,
  );
  const status = statusPage({ mode, frontend: frontend !== undefined, version: packageVersion(), startedAt });
  adminApp.get("/status", (c) => c.body(status.html, 200, status.headers));
  adminApp.get("/status/assets/:file", (c) => {
    const a = statusAssets()[c.req.param("file")];
    return a ? c.body(a.body, 200, a.headers) : c.text("no such asset\n", 404);
  });
  // The status page polls this in every mode: the runtime file's state travels with it.
  adminApp.get("/debug/history", (c) => {
    const after = Number(c.req.query("after") ?? -1);
    const read = history.read(Number.isInteger(after) ? after : -1, c.req.query("tenant"));
    return c.json({ ...read, runtimeConfig: runtime?.status() ?? null }, 200, { "cache-control": "no-store" });
  });
  adminApp.get("/debug/runtime-config", (c) =>
    runtime
      ? c.json(runtime.status(), 200, { "cache-control": "no-store" })
      : c.text("no runtime_config in this process's config\n", 404),
  );
  if (frontend) adminApp.route("/", frontend.admin);
  const admin = config.server.admin_listen
    ? await listen(adminApp.fetch, config.server.admin_listen).catch(async (e: unknown) => {
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
      history.close();
      runtime?.close();
      await listener.close(graceMs);
      await edgeShell?.close();
      await frontend?.close();
      await admin?.close(1000);
    },
  };
}

/** A fetch that answers URLs under `prefix` with `handler` in this process, and fetches the others. */
function inProcess(prefix: string, handler: (req: Request) => Response | Promise<Response>): typeof fetch {
  return async (input, init) => {
    const req = new Request(input, init);
    return req.url.startsWith(prefix) ? handler(req) : fetch(req);
  };
}
