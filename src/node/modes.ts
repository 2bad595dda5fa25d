import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Hono } from "hono";
import type { WebSocketServer } from "ws";
import type { Config } from "../config/schema.js";
import { createEdgeApp, type EdgeApp } from "../edge/app.js";
import { createFrontend, type Frontend } from "../frontend/app.js";
import { querierHeaders } from "../frontend/dispatch/headers.js";
import { identityOf } from "../frontend/require-identity.js";
import { ApiError } from "../http/errors.js";
import { upstreamUrl } from "../http/forward.js";
import { identityVerifier } from "../identity/signed-identity.js";
import { ActorDirectory } from "../observability/actor-directory.js";
import type { RequestLog } from "../observability/requests.js";
import { edgeServer, type EdgeServer } from "./edge-server.js";
import type { RuntimeConfig } from "./runtime-config.js";
import { remoteAddress, type UpgradeHandler } from "./server.js";
import { upstreamFetch } from "./upstream-fetch.js";
import { proxyWebSocket, rejectWithError, upgradeRequest } from "./websocket-proxy.js";

export type Mode = "all" | "edge" | "frontend";

const TAIL = "/loki/api/v1/tail";

/** What run() builds for every mode before wiring one: the top Hono app, the log, the runtime file. */
export interface Shell {
  top: Hono;
  wss: WebSocketServer;
  requests: RequestLog;
  runtime?: RuntimeConfig;
  /** The main listener's URL (scheme and address). */
  base: string;
}

/** One mode wired: the WebSocket upgrades it takes, and the parts run() serves, watches and closes. */
export interface Wired {
  onUpgrade: UpgradeHandler;
  frontend?: Frontend;
  /** The edge alone, served by node:http and undici directly (edge-server.ts) instead of the Hono app. */
  edgeShell?: EdgeServer;
}

type FrontendSlice = Pick<Config, "frontend" | "routes" | "status" | "demo">;
type EdgeSlice = Pick<Config, "edge" | "routes" | "status">;

/** `fairgate frontend`: the query frontend alone, behind an edge that signs the identity it hands on. */
export async function wireFrontend(config: FrontendSlice & Pick<Config, "identity">, shell: Shell): Promise<Wired> {
  const verifyIdentity = await identityVerifier(config.identity!);
  const frontend = startFrontend(config, shell, verifyIdentity);
  const tail = tailUrl(config);
  shell.top.route("/", frontend.app);
  const onUpgrade: UpgradeHandler = async (req, socket, head) => {
    const path = req.url ?? "/";
    try {
      const request = upgradeRequest(req);
      const identity = await identityOf(request, undefined, verifyIdentity);
      if (new URL(request.url).pathname !== TAIL)
        throw new ApiError("not_found", "only /loki/api/v1/tail takes a WebSocket");
      const target = upstreamUrl(tail!, TAIL, new URL(request.url).search);
      proxyWebSocket(shell.wss, req, socket, head, target, querierHeaders(request, identity));
    } catch (e) {
      await rejectWithError(socket, e, path);
    }
  };
  return { onUpgrade, frontend };
}

/** `fairgate edge`: admission alone; reads go to the frontend at edge.upstream.read_url with a signed identity. */
export function wireEdge(config: EdgeSlice & Pick<Config, "identity" | "demo">, shell: Shell): Wired {
  const { app, edge } = edgeApp(config, shell, undefined, config.identity);
  shell.top.route("/", app);
  // Without the demo's routes, node:http and undici serve the edge directly; both take decisions from one Edge.
  const edgeShell = config.demo.enabled
    ? undefined
    : edgeServer({ edge, config: config.edge!, requests: shell.requests, scheme: shellScheme(shell) });
  return { onUpgrade: edgeUpgrade(edge, shell), edgeShell };
}

/** `fairgate all`: the edge and the frontend in one process; reads go from one to the other in process. */
export function wireAll(config: EdgeSlice & FrontendSlice, shell: Shell): Wired {
  const frontend = startFrontend(config, shell);
  // The replicas' internal route, ahead of the edge (whose route policy knows no such route).
  if (frontend.replicas) shell.top.route("/", frontend.replicas.routes);
  const { app, edge } = edgeApp(config, shell, frontend);
  shell.top.route("/", app);
  return { onUpgrade: edgeUpgrade(edge, shell, tailUrl(config)), frontend };
}

/** The frontend, for `all` (identity in process) and `frontend` (identity verified from the edge's header). */
function startFrontend(
  config: FrontendSlice,
  { top, requests, runtime, base }: Shell,
  verifyIdentity?: Awaited<ReturnType<typeof identityVerifier>>,
): Frontend {
  const names = config.status.actor_directory;
  return createFrontend(config.frontend!, {
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
  });
}

/** The edge's Hono app; with a frontend in this process, reads reach it without HTTP. */
function edgeApp(
  config: EdgeSlice,
  { requests, runtime }: Shell,
  frontend?: Frontend,
  signedIdentity?: Config["identity"],
): EdgeApp {
  const names = config.status.actor_directory;
  return createEdgeApp(
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
    signedIdentity,
    config.routes,
  );
}

/** The tail's WebSocket, admitted by the edge; co-deployed, it goes to the frontend's tail URL with the edge's headers. */
function edgeUpgrade(edge: EdgeApp["edge"], { wss }: Shell, frontendTail?: string): UpgradeHandler {
  return async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = req.url ?? "/";
    try {
      const admitted = await edge.admit(upgradeRequest(req), req.socket.remoteAddress);
      const target = admitted.target ?? (frontendTail ? upstreamUrl(frontendTail, TAIL, admitted.search) : undefined);
      if (admitted.kind !== "tail" || !target)
        throw new ApiError("not_found", "only /loki/api/v1/tail takes a WebSocket");
      proxyWebSocket(wss, req, socket, head, target, admitted.headers);
    } catch (e) {
      await rejectWithError(socket, e, path);
    }
  };
}

function tailUrl(config: Pick<Config, "frontend">): string | undefined {
  return config.frontend?.tail_url ?? config.frontend?.queriers[0]?.url;
}

function shellScheme(shell: Shell): "http" | "https" {
  return shell.base.startsWith("https:") ? "https" : "http";
}

/** A fetch that answers URLs under `prefix` with `handler` in this process, and fetches the others. */
function inProcess(prefix: string, handler: (req: Request) => Response | Promise<Response>): typeof fetch {
  return async (input, init) => {
    const req = new Request(input, init);
    return req.url.startsWith(prefix) ? handler(req) : fetch(req);
  };
}
