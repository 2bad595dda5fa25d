// A fake Prometheus querier whose latency the benchmark controls: it answers query_range with a
// small valid matrix after `delay_ms` (a request parameter the frontend forwards unchanged to every
// sub-query), and logs when each sub-query ran and for which actor (X-Loki-Actor-Path).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { rng } from "../../test/support/rng.js";
import { listenOnLoopback } from "../../test/support/loopback.js";

export interface Served {
  actor: string;
  delayMs: number;
  /** performance.now() at arrival and when the answer was sent (or the client went away). */
  start: number;
  end: number;
  aborted: boolean;
}

export interface DelayQuerier {
  url: string;
  log: Served[];
  /** Sub-queries currently being answered. */
  inflight(): number;
  close(): Promise<void>;
}

/** Deterministic jitter, so runs are comparable. */
export { rng };

/**
 * `jitter` 0.2: each delay is drawn uniformly from ±20 % around `delay_ms`, so querier slots do not run in lockstep.
 */
export async function startDelayQuerier(opts: { jitter?: number; seed?: number } = {}): Promise<DelayQuerier> {
  const jitter = opts.jitter ?? 0;
  const rand = rng(opts.seed ?? 1);
  const log: Served[] = [];
  let inflight = 0;

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const url = new URL(req.url ?? "/", "http://q");
    if (url.pathname === "/ready" || url.pathname === "/-/ready") return void res.writeHead(200).end("ready\n");
    if (!url.pathname.endsWith("/api/v1/query_range")) return void res.writeHead(404).end("not found\n");
    const params = new URLSearchParams(body);
    url.searchParams.forEach((v, k) => {
      if (!params.has(k)) params.set(k, v);
    });
    const base = Number(params.get("delay_ms") ?? 0);
    const delayMs = base * (1 - jitter + 2 * jitter * rand());
    const start = Number(params.get("start"));
    const entry: Served = {
      actor: String(req.headers["x-loki-actor-path"] ?? ""),
      delayMs,
      start: performance.now(),
      end: NaN,
      aborted: false,
    };
    log.push(entry);
    inflight++;
    let done = false;
    const finish = (aborted: boolean) => {
      if (done) return;
      done = true;
      inflight--;
      entry.end = performance.now();
      entry.aborted = aborted;
    };
    const timer = setTimeout(() => {
      const answer = {
        status: "success",
        data: { resultType: "matrix", result: [{ metric: { job: "bench" }, values: [[start, "1"]] }] },
      };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
      finish(false);
    }, delayMs);
    res.on("close", () => {
      if (!done) clearTimeout(timer), finish(true);
    });
  };

  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (body += d));
    req.on("end", () => handle(req, res, body));
  });
  server.keepAliveTimeout = 30_000;
  const listening = await listenOnLoopback(server);
  return {
    url: listening.url,
    log,
    inflight: () => inflight,
    close: listening.close,
  };
}
