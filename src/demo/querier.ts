import { Hono, type Context } from "hono";
import { syntaxErrorResponse } from "./query-syntax.js";

// DEMO ONLY: a stand-in querier for the Loki and Prometheus query APIs, answering from deterministic
// generated data, so `npm start` shows splitting, merging and the tenant and actor path each
// query ran as (they appear as labels) without a real Loki or Prometheus.

const APPS = ["api", "web", "worker"];
const SEC = 1_000_000_000n;

/** Loki sends ns; Prometheus seconds. */
function seconds(v: string | undefined, fallback: number): number {
  if (!v) return fallback;
  return /^\d{11,}$/.test(v) ? Number(BigInt(v) / SEC) : Number(v);
}

/** Each range sub-query takes this long, as a real querier would, so queueing and fairness can be seen. */
const WORK_MS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const value = (app: string, t: number) => Math.round(50 + 40 * Math.sin(t / 3600 + app.length));

async function params(c: Context): Promise<URLSearchParams> {
  const p = new URLSearchParams(new URL(c.req.url).search);
  if (c.req.method === "POST")
    new URLSearchParams(await c.req.text()).forEach((v, k) => {
      p.append(k, v);
    });
  return p;
}

export function demoQuerier(): Hono {
  const app = new Hono();
  const now = () => Math.floor(Date.now() / 1000);

  app.all("*", async (c) => {
    const p = await params(c);
    const who = { tenant: c.req.header("x-scope-orgid") ?? "", actor_path: c.req.header("x-loki-actor-path") ?? "" };
    const route = c.req.path.replace(/^.*\/api\/v1\//, "");
    const loki = c.req.path.includes("/loki/");
    if (route === "query" || route === "query_range") {
      const refused = syntaxErrorResponse(p.get("query") ?? "", loki);
      if (refused) return refused;
    }
    if (route === "query_range") await sleep(WORK_MS);
    const end = seconds(p.get("end") ?? undefined, now());
    const start = seconds(p.get("start") ?? undefined, end - 3600);

    if (route === "query_range" && loki && (p.get("query") ?? "").trim().startsWith("{")) {
      // One line a minute per app, newest first unless forward, up to limit.
      const limit = Number(p.get("limit") ?? 100);
      const forward = p.get("direction") === "forward";
      const startNs = BigInt(p.get("start") ?? String(BigInt(start) * SEC));
      const endNs = BigInt(p.get("end") ?? String(BigInt(end) * SEC));
      const streams = APPS.map((a) => ({ stream: { app: a, ...who }, values: [] as [string, string][] }));
      const first = ((startNs + 60n * SEC - 1n) / (60n * SEC)) * 60n * SEC;
      const stamps: bigint[] = [];
      for (let t = first; t < endNs && stamps.length < limit * APPS.length; t += 60n * SEC) stamps.push(t);
      if (!forward) stamps.reverse();
      let n = 0;
      for (const t of stamps)
        for (const s of streams)
          if (n++ < limit) s.values.push([t.toString(), `level=info app=${s.stream.app} msg="demo line" t=${t / SEC}`]);
      return c.json({
        status: "success",
        data: { resultType: "streams", result: streams.filter((s) => s.values.length) },
      });
    }
    if (route === "query_range") {
      const step = Number(p.get("step") ?? 60);
      const result = APPS.map((a) => {
        const values: [number, string][] = [];
        for (let t = start; t <= end; t += step) values.push([t, String(value(a, t))]);
        return { metric: { app: a, ...who }, values };
      });
      return c.json({ status: "success", data: { resultType: "matrix", result } });
    }
    if (route === "query") {
      const t = seconds(p.get("time") ?? undefined, now());
      return c.json({
        status: "success",
        data: {
          resultType: "vector",
          result: APPS.map((a) => ({ metric: { app: a, ...who }, value: [t, String(value(a, t))] })),
        },
      });
    }
    if (route === "labels") return c.json({ status: "success", data: ["actor_path", "app", "tenant"] });
    if (route.startsWith("label/")) {
      const name = route.split("/")[1];
      return c.json({
        status: "success",
        data: name === "app" ? APPS : name === "tenant" ? [who.tenant] : name === "actor_path" ? [who.actor_path] : [],
      });
    }
    if (route === "series") return c.json({ status: "success", data: APPS.map((a) => ({ app: a, ...who })) });
    if (route === "index/stats")
      return c.json({
        streams: APPS.length,
        chunks: APPS.length,
        bytes: (end - start) * 100,
        entries: Math.floor((end - start) / 60) * APPS.length,
      });
    if (route === "index/volume")
      return c.json({
        status: "success",
        data: {
          resultType: "vector",
          result: APPS.map((a) => ({ metric: { app: a }, value: [end, String((end - start) * 10)] })),
        },
      });
    if (route === "status/buildinfo") return c.json({ status: "success", data: { version: "demo", revision: "demo" } });
    return c.json({ status: "error", errorType: "not_found", error: `the demo querier does not serve ${route}` }, 404);
  });
  return app;
}
