import { Hono } from "hono";

// DEMO ONLY: a stand-in querier that answers every query with one sample naming the tenant and
// actor path it was asked for, so a newcomer can see what the gateway decided.
export function demoQuerier(): Hono {
  const app = new Hono();
  app.all("*", (c) => {
    const tenant = c.req.header("x-scope-orgid") ?? "";
    const actorPath = c.req.header("x-loki-actor-path") ?? "";
    const now = Date.now() / 1000;
    return c.json({
      status: "success",
      data: { resultType: "vector", result: [{ metric: { __name__: "demo", tenant, actor_path: actorPath, path: c.req.path }, value: [now, "1"] }] },
    });
  });
  return app;
}
