// What the real-Loki benchmarks share: Loki with seeded history, one query_range asked of Loki directly
// or of an in-process fairgate frontend, and the querier time Loki's own log lines account to a query.
import { performance } from "node:perf_hooks";
import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend } from "../../src/frontend/app.js";
import { findLoki, generateHistory, pushHistory, startLoki, type TestLoki } from "../../test/support/loki.js";

export { pushDenseHour, querierSubQueries } from "../../test/support/loki.js";

export const TENANT = "tenant-a";
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Loki with 7 days of history for TENANT; undefined (after saying why) without the binary. */
export async function lokiWithHistory(opts: Parameters<typeof startLoki>[0]): Promise<TestLoki | undefined> {
  if (!findLoki()) {
    console.log("SKIPPED: no Loki binary (set LOKI_BIN=/path/to/loki-3.4.6-linux-amd64)");
    return undefined;
  }
  const loki = await startLoki(opts);
  await pushHistory(loki, generateHistory({ tenants: [TENANT] }));
  return loki;
}

/** fairgate's frontend with its default config, Loki as its only querier; `over` changes one part. */
export function fairgate(loki: TestLoki, over: Record<string, unknown> = {}): Frontend {
  const config = parseConfig({ log: { level: "warn" }, frontend: { queriers: [{ url: loki.url }], ...over } });
  return createFrontend(config.frontend!, { log: () => {} });
}

export interface Target {
  /** Loki directly, with or without X-Loki-Actor-Path from the client. */
  loki?: { url: string; actorHeader: boolean };
  /** fairgate, the actor path coming from the identity (a token), never from the client. */
  frontend?: Frontend;
}

export interface Answer {
  ms: number;
  status: number;
  body: string;
  cache?: string;
  /** fairgate only: time its pieces waited in its queue (Server-Timing). */
  queueMs?: number;
}

/** One Loki query_range (times in seconds) for `actor`, through `target`. Throws on anything but 200. */
export async function queryRange(
  target: Target,
  actor: string,
  q: { query: string; start: number; end: number; step: number },
  signal?: AbortSignal,
): Promise<Answer> {
  const qs = new URLSearchParams({ query: q.query, start: String(q.start), end: String(q.end), step: String(q.step) });
  const path = `/loki/api/v1/query_range?${qs}`;
  const t0 = performance.now();
  let res: Response;
  if (target.frontend) {
    const identity = { subject: actor, tenants: [TENANT], actorPath: `users|${actor}`, scopes: [] };
    res = await target.frontend.app.fetch(new Request(`http://fairgate${path}`, { signal }), { identity });
  } else {
    const headers: Record<string, string> = { "x-scope-orgid": TENANT };
    if (target.loki!.actorHeader) headers["x-loki-actor-path"] = `users|${actor}`;
    res = await fetch(`${target.loki!.url}${path}`, { headers, signal });
  }
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${res.status} for ${q.query}: ${body.slice(0, 300)}`);
  const queue = /queue;dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "")?.[1];
  return {
    ms,
    status: res.status,
    body,
    cache: res.headers.get("x-fairgate-cache") ?? undefined,
    queueMs: queue === undefined ? undefined : Number(queue),
  };
}

/** Jain's fairness index over the shares: 1 when equal, 1/n when one takes everything. */
export function jain(xs: number[]): number {
  const sum = xs.reduce((a, b) => a + b, 0);
  const sq = xs.reduce((a, b) => a + b * b, 0);
  return sq === 0 ? 1 : (sum * sum) / (xs.length * sq);
}
