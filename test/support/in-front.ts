import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend } from "../../src/frontend/app.js";
import { type Arrival, type CountingProxy, startCountingProxy } from "./counting-proxy.js";

/**
 * fairgate's frontend (in process) in front of real querier processes, a counting proxy before each querier so that
 * a test sees which sub-query reached which querier, in what order, for whom, and how long the querier took.
 */
export interface InFront {
  frontend: Frontend;
  proxies: CountingProxy[];
  /** Every sub-query that reached a querier, over all of them, in order of arrival. */
  arrivals(): Arrival[];
  /** Asks fairgate as `actor` of `tenant` (the identity the edge would hand over): GET path?params. */
  ask(actor: string, path: string, params: Record<string, string>, signal?: AbortSignal): Promise<Response>;
  close(): Promise<void>;
}

/**
 * `frontend` is fairgate's frontend section without `queriers`; `querier` the settings of every querier entry
 * (max_concurrent, idle_actor_slots), whose URLs are the proxies'.
 */
export async function fairgateInFront(
  querierUrls: string[],
  tenant: string,
  querier: Record<string, unknown>,
  frontend: Record<string, unknown> = {},
): Promise<InFront> {
  const proxies = await Promise.all(querierUrls.map((u) => startCountingProxy(u)));
  const config = parseConfig({
    log: { level: "warn" },
    frontend: { ...frontend, queriers: proxies.map((p) => ({ url: p.url, ...querier })) },
  });
  const f = createFrontend(config.frontend!, { log: () => {} });
  return {
    frontend: f,
    proxies,
    arrivals: () => proxies.flatMap((p) => p.arrivals).sort((a, b) => a.atMs - b.atMs),
    ask: (actor, path, params, signal) => {
      const identity = { subject: actor, tenants: [tenant], actorPath: `users|${actor}`, scopes: [] };
      const url = `http://fairgate${path}?${new URLSearchParams(params)}`;
      return Promise.resolve(f.app.fetch(new Request(url, { signal }), { identity }));
    },
    close: async () => {
      f.close();
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
}

/** Each actor's share of the querier time its sub-queries took (answered ones, whose time is known). */
export function querierTimeShares(arrivals: Arrival[], actors: string[]): Record<string, number> {
  const ms = Object.fromEntries(actors.map((a) => [a, 0]));
  for (const a of arrivals) {
    const actor = actors.find((x) => a.actor === `users|${x}`);
    if (actor && a.ms !== undefined) ms[actor]! += a.ms;
  }
  const total = Object.values(ms).reduce((x, y) => x + y, 0);
  return Object.fromEntries(actors.map((a) => [a, total ? ms[a]! / total : 0]));
}

/** A matrix or streams answer's result with its series in a stable order, to compare two answers. */
export function sortedResult(body: { data: { resultType: string; result: { metric?: object; stream?: object }[] } }) {
  const key = (r: { metric?: object; stream?: object }) => JSON.stringify(r.metric ?? r.stream);
  return {
    resultType: body.data.resultType,
    result: [...body.data.result].sort((a, b) => key(a).localeCompare(key(b))),
  };
}
