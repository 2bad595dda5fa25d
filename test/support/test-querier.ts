import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./loopback.js";

/** A Prometheus/Loki range querier with a latency the test sets; it answers `series` series, a point per step. */
export interface TestQuerier {
  url: string;
  /**
   * Milliseconds before each answer (or per sub-query start, in seconds); -1 holds every answer until
   * the client goes away.
   */
  delayMs: number | ((start: number) => number);
  series: number;
  /** Sub-queries received: path and actor path. */
  seen: { path: string; actor: string }[];
  /** Sub-queries whose client went away before the answer. */
  aborted: number;
  close(): Promise<void>;
}

/**
 * Answers `body` as JSON after `delayMs` (never when negative); when the client goes away first, the
 * answer is dropped and `aborted` is told.
 */
/** A querier call's parameters: the form body of a POST, else the URL's. */
export async function queryParams(req: IncomingMessage, url: URL): Promise<URLSearchParams> {
  if (req.method !== "POST") return url.searchParams;
  let form = "";
  for await (const chunk of req) form += chunk;
  return new URLSearchParams(form);
}

export function answerAfter(res: ServerResponse, body: string, delayMs: number, aborted: () => void): void {
  const timer =
    delayMs >= 0
      ? setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end(body), delayMs)
      : undefined;
  res.on("close", () => {
    if (res.writableEnded) return;
    clearTimeout(timer);
    aborted();
  });
}

export async function startTestQuerier(delayMs: TestQuerier["delayMs"]): Promise<TestQuerier> {
  const q: TestQuerier = { url: "", delayMs, series: 1, seen: [], aborted: 0, close: async () => {} };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, "http://q");
    if (url.pathname.endsWith("ready")) return void res.end("ready");
    const params = await queryParams(req, url);
    q.seen.push({ path: url.pathname, actor: String(req.headers["x-loki-actor-path"]) });
    const seconds = (v: string | null) => (Number(v) > 1e12 ? Number(v) / 1e9 : Number(v)); // Loki sends ns
    const [start, end, step] = [
      seconds(params.get("start")),
      seconds(params.get("end")),
      Number(params.get("step") ?? 60),
    ];
    const values: [number, string][] = [];
    for (let t = start; t <= end; t += step) values.push([t, String((t / step) % 1000)]);
    const result = Array.from({ length: q.series }, (_, i) => ({
      metric: { job: "async-test", ...(i ? { i: String(i) } : {}) },
      values,
    }));
    const body = JSON.stringify({ status: "success", data: { resultType: "matrix", result } });
    const delay = typeof q.delayMs === "function" ? q.delayMs(start) : q.delayMs;
    answerAfter(res, body, delay, () => q.aborted++);
  });
  const listening = await listenOnLoopback(server);
  q.url = listening.url;
  q.close = listening.close;
  return q;
}
