import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The body the upstream answers every query with: a small, realistic Loki/Prometheus answer. */
export const UPSTREAM_BODY = '{"status":"success","data":{"resultType":"streams","result":[]}}';

export interface Server {
  url: string;
  close(): Promise<void>;
}

/** Every child we spawned, and its temp dir, so an exit on error or signal still stops and removes them. */
const children = new Map<ChildProcess, () => void>();
process.on("exit", () => {
  // SIGTERM, not SIGKILL: a killed nginx master would leave its workers behind.
  for (const [child, cleanup] of children) child.kill("SIGTERM"), cleanup();
});

/** Stops the child (and runs cleanup) if this process exits first. */
export function track(child: ChildProcess, cleanup = () => {}): ChildProcess {
  children.set(child, cleanup);
  child.once("exit", () => children.delete(child));
  return child;
}

export function which(cmd: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function waitForPort(
  port: number,
  child: ChildProcess,
  name: string,
  stderr: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${stderr()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => (s.end(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not listen on 127.0.0.1:${port} within ${timeoutMs / 1000}s: ${stderr()}`);
}

export async function spawnServer(
  name: string,
  cmd: string,
  args: string[],
  port: number,
  cleanup = () => {},
  startMs = 5_000,
): Promise<Server> {
  const child = track(spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] }), cleanup);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM"); // nginx: fast shutdown, master stops its workers
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(timer);
    }
    cleanup();
  };
  try {
    await waitForPort(port, child, name, () => stderr.trim(), startMs);
  } catch (e) {
    await close();
    throw e;
  }
  return { url: `http://127.0.0.1:${port}`, close };
}

export type NginxRole = { serve: string } | { proxyTo: string };

/**
 * nginx in the foreground (`daemon off`) as our child, everything it writes under a temp prefix.
 * Either it answers every request with a fixed JSON body, or it reverse-proxies with upstream keepalive.
 */
export async function startNginx(nginx: string, role: NginxRole, workers: number | "auto"): Promise<Server> {
  const prefix = mkdtempSync(join(tmpdir(), "fairgate-bench-nginx-"));
  const port = await freePort();
  const location =
    "serve" in role
      ? // The tenant and actor path it was sent come back as headers: the bench checks every proxy set them.
        `default_type application/json;\n      add_header x-seen-tenant $http_x_scope_orgid;\n      ` +
        `add_header x-seen-actor $http_x_loki_actor_path;\n      return 200 '${role.serve}';`
      : `proxy_pass http://backend;\n      proxy_http_version 1.1;\n      proxy_set_header Connection "";`;
  const backend = "proxyTo" in role ? `upstream backend { server ${new URL(role.proxyTo).host}; keepalive 64; }` : "";
  const conf = `
# Root starts workers as nobody, who could not write the temp prefix; as root, keep root.
${process.getuid?.() === 0 ? "user root;" : ""}
daemon off;
master_process on;
worker_processes ${workers};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 1000000;
  ${backend}
  server {
    listen 127.0.0.1:${port};
    location / {
      ${location}
    }
  }
}
`;
  writeFileSync(join(prefix, "nginx.conf"), conf);
  return spawnServer(
    "nginx",
    nginx,
    ["-p", prefix, "-c", join(prefix, "nginx.conf"), "-e", join(prefix, "error.log")],
    port,
    () => rmSync(prefix, { recursive: true, force: true }),
  );
}

/**
 * Without nginx: the same fixed answer from node:http, in its own process so it does not share the edge's event loop.
 */
export async function startNodeUpstream(): Promise<Server> {
  const port = await freePort();
  const script = `
    const body = ${JSON.stringify(UPSTREAM_BODY)};
    const s = require("node:http").createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
    });
    s.keepAliveTimeout = 60_000;
    s.listen(${port}, "127.0.0.1");
    process.on("SIGTERM", () => process.exit(0));`;
  return spawnServer("node upstream", process.execPath, ["-e", script], port);
}
