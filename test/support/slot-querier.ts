import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { queryParams } from "./test-querier.js";

/**
 * A Prometheus-style range querier that counts what runs on it at once. Each answer waits `answerMs(actor)`
 * (negative: until release()), so a test can hold sub-queries in flight and see where they went and when.
 */
export interface SlotQuerier {
  url: string;
  host: string;
  port: number;
  /** Sub-queries in arrival order: the actor path that asked, the piece's start (seconds), when (performance.now). */
  seen: { actor: string; start: number; at: number }[];
  running: number;
  /** The most sub-queries that ran here at once. */
  maxRunning: number;
  answerMs: (actor: string) => number;
  /** Answers held sub-queries now: of the actors `match` takes (all by default), the `count` oldest. */
  release(match?: (actor: string) => boolean, count?: number): number;
  close(): Promise<void>;
}

/** Listens on `host` (any 127.x.y.z address is loopback on Linux) and `port` (0: a free one). */
export async function startSlotQuerier(
  host = "127.0.0.1",
  port = 0,
  answerMs: SlotQuerier["answerMs"] = () => 0,
): Promise<SlotQuerier> {
  const held = new Map<() => void, string>();
  const q = { seen: [], running: 0, maxRunning: 0, answerMs } as unknown as SlotQuerier;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, "http://q");
    if (url.pathname.endsWith("ready")) return void res.end("ready");
    const params = await queryParams(req, url);
    const actor = String(req.headers["x-loki-actor-path"]);
    const start = Number(params.get("start"));
    q.seen.push({ actor, start, at: performance.now() });
    q.running++;
    q.maxRunning = Math.max(q.maxRunning, q.running);
    const body = JSON.stringify({
      status: "success",
      data: { resultType: "matrix", result: [{ metric: { job: "slots" }, values: [[start, "1"]] }] },
    });
    let done = false;
    const answer = () => {
      if (done) return;
      done = true;
      held.delete(answer);
      q.running--;
      if (!res.destroyed) res.writeHead(200, { "content-type": "application/json" }).end(body);
    };
    res.on("close", () => {
      if (!done) {
        done = true;
        held.delete(answer);
        q.running--;
      }
    });
    const ms = q.answerMs(actor);
    if (ms < 0) held.set(answer, actor);
    else setTimeout(answer, ms);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return Object.assign(q, {
    url: `http://${host}:${bound}`,
    host,
    port: bound,
    release: (match: (actor: string) => boolean = () => true, count = Number.POSITIVE_INFINITY) => {
      const chosen = [...held].filter(([, actor]) => match(actor)).slice(0, count);
      for (const [answer] of chosen) answer();
      return chosen.length;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const a of [...held.keys()]) a();
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}

/** Two or more queriers on one port at different loopback addresses, as pods behind a headless service. */
export async function startSlotQueriersOnOnePort(hosts: string[], answerMs?: SlotQuerier["answerMs"]) {
  for (let attempt = 0; ; attempt++) {
    const started = [await startSlotQuerier(hosts[0], 0, answerMs)];
    try {
      for (const h of hosts.slice(1)) started.push(await startSlotQuerier(h, started[0]!.port, answerMs));
      return started;
    } catch (e) {
      await Promise.all(started.map((q) => q.close()));
      if (attempt >= 5) throw e; // the port was taken on another address: try another
    }
  }
}
