import { createServer } from "node:http";
import { listenOnLoopback } from "./loopback.js";

/** A sub-query as the querier stand-in saw it arrive. */
export interface Arrival {
  tenant: string;
  actor: string;
  path: string;
  query: string;
  /** performance.now() when it arrived. */
  atMs: number;
  /** How long the querier took to answer it (set once it has, delay not counted): its querier time. */
  ms?: number;
}

/**
 * A small HTTP proxy in front of a real querier (Prometheus) that counts: the order sub-queries arrive in, with
 * their tenant and actor path, and the most it ever held at once. Each sub-query is held `delayMs` before it is
 * forwarded, so that work queues up behind the querier's slots. Health checks (/-/…, /ready) pass uncounted.
 */
export interface CountingProxy {
  url: string;
  delayMs: number;
  arrivals: Arrival[];
  inflight: number;
  maxInflight: number;
  /** Starts a new measurement of maxInflight. */
  resetMax(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const p: CountingProxy = {
    url: "",
    delayMs: 0,
    arrivals: [],
    inflight: 0,
    maxInflight: 0,
    resetMax: () => void (p.maxInflight = p.inflight),
    close: async () => {},
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, "http://proxy");
    const health = url.pathname.startsWith("/-/") || url.pathname === "/ready";
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    let counted = false;
    const done = () => {
      if (counted) p.inflight--;
      counted = false;
    };
    res.on("close", done);
    let arrival: Arrival | undefined;
    if (!health) {
      const form = new URLSearchParams(body.toString());
      arrival = {
        tenant: String(req.headers["x-scope-orgid"] ?? ""),
        actor: String(req.headers["x-loki-actor-path"] ?? ""),
        path: url.pathname,
        query: url.searchParams.get("query") ?? form.get("query") ?? "",
        atMs: performance.now(),
      };
      p.arrivals.push(arrival);
      counted = true;
      p.inflight++;
      p.maxInflight = Math.max(p.maxInflight, p.inflight);
      if (p.delayMs > 0) await new Promise((r) => setTimeout(r, p.delayMs));
    }
    try {
      const sent = performance.now();
      const headers = new Headers();
      for (const name of ["content-type", "x-scope-orgid"])
        if (req.headers[name]) headers.set(name, String(req.headers[name]));
      const answer = await fetch(`${target}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
      });
      const bytes = Buffer.from(await answer.arrayBuffer());
      if (arrival) arrival.ms = performance.now() - sent;
      res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "text/plain" }).end(bytes);
    } catch (e) {
      res.writeHead(502).end(String(e));
    }
  });
  const listening = await listenOnLoopback(server);
  p.url = listening.url;
  p.close = listening.close;
  return p;
}
