import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { listenOnLoopback } from "./loopback.js";

export const FIXTURES = new URL("./fixtures/loki/", import.meta.url);

export interface Fixture {
  description: string;
  request: { path: string; params: Record<string, string | string[]>; headers: Record<string, string> };
  status: number;
  responseContentType: string;
  response: unknown;
}

export function loadFixture(name: string): Fixture {
  return JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), "utf8")) as Fixture;
}

/**
 * Request identity for matching: tenant, path and parameters; direction=backward is Loki's default, so it is left out.
 */
const requestKey = (tenant: string | undefined, path: string, params: Record<string, string | string[]>) => {
  const p = { ...params };
  if (p.direction === "backward") delete p.direction;
  const sorted = Object.entries(p)
    .map(([k, v]) => [k, Array.isArray(v) ? v : [v]])
    .sort(([a], [b]) => (String(a) < String(b) ? -1 : 1));
  return JSON.stringify([tenant ?? "", path, sorted]);
};

export interface FixtureQuerier {
  url: string;
  /** Every query received (health checks excluded), with the parameters as sent. */
  requests: { path: string; params: Record<string, string | string[]>; headers: IncomingHttpHeaders }[];
  aborted: string[];
  /** Answer the next N queries with this status (e.g. 503) before serving fixtures again. */
  failNext(n: number, status: number): void;
  /** Delay every answer by ms (0 = none); -1 never answers. */
  delay: number;
  healthy: boolean;
  close(): Promise<void>;
}

/** A Loki querier that answers exactly the recorded fixture requests, and 404 (naming the request) otherwise. */
export async function startFixtureQuerier(): Promise<FixtureQuerier> {
  const byRequest = new Map<string, Fixture>();
  for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith(".json"))) {
    const fx = loadFixture(f.replace(/\.json$/, ""));
    byRequest.set(requestKey(fx.request.headers["X-Scope-OrgID"], fx.request.path, fx.request.params), fx);
  }
  let failures: { n: number; status: number } = { n: 0, status: 500 };
  const q: FixtureQuerier = {
    url: "",
    requests: [],
    aborted: [],
    failNext: (n, status) => (failures = { n, status }),
    delay: 0,
    healthy: true,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    if (url.pathname === "/ready" || url.pathname === "/-/ready")
      return void res.writeHead(q.healthy ? 200 : 503).end(q.healthy ? "ready" : "not ready");
    const params: Record<string, string | string[]> = {};
    url.searchParams.forEach((v, k) => {
      const have = params[k];
      params[k] = have === undefined ? v : Array.isArray(have) ? [...have, v] : [have, v];
    });
    q.requests.push({ path: url.pathname, params, headers: req.headers });
    res.on("close", () => {
      if (!res.writableEnded) q.aborted.push(`${url.pathname}?${url.searchParams}`);
    });
    const answer = () => {
      if (failures.n > 0) {
        failures.n--;
        return void res
          .writeHead(failures.status, { "content-type": "text/plain" })
          .end(`injected failure ${failures.status}`);
      }
      const fx = byRequest.get(requestKey(req.headers["x-scope-orgid"] as string | undefined, url.pathname, params));
      if (!fx)
        return void res
          .writeHead(404, { "content-type": "text/plain" })
          .end(`no fixture for ${url.pathname}?${url.searchParams}`);
      const body = typeof fx.response === "string" ? fx.response : JSON.stringify(fx.response);
      res.writeHead(fx.status, { "content-type": fx.responseContentType }).end(body);
    };
    if (q.delay < 0) return;
    if (q.delay > 0) setTimeout(answer, q.delay);
    else answer();
  });
  const listening = await listenOnLoopback(server);
  q.url = listening.url;
  q.close = listening.close;
  return q;
}
