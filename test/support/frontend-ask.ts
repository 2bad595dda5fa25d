import type { Frontend } from "../../src/frontend/app.js";

// Asking an in-process frontend (createFrontend) a query as a given tenant, and reading its metrics.

export interface Answer {
  status: number;
  cache: string | null;
  body: any;
  ms: number;
}

const identityOf = (tenant: string) => ({
  subject: "s",
  tenants: [tenant],
  actorPath: `${tenant}|users|alice`,
  scopes: [],
});

export async function ask(
  frontend: Frontend,
  form: Record<string, string>,
  opts: { tenant?: string; headers?: Record<string, string>; path?: string } = {},
): Promise<Answer> {
  const t0 = performance.now();
  const res = await frontend.app.fetch(
    new Request(`http://frontend${opts.path ?? "/api/v1/query_range"}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...opts.headers },
      body: new URLSearchParams(form).toString(),
    }),
    { identity: identityOf(opts.tenant ?? "team-a") },
  );
  const text = await res.text();
  return {
    status: res.status,
    cache: res.headers.get("x-fairgate-cache"),
    body: JSON.parse(text),
    ms: performance.now() - t0,
  };
}

/** One sample of the frontend's /metrics (0 when absent). */
export async function metricValue(frontend: Frontend, name: string, labels = ""): Promise<number> {
  const text = await (await frontend.admin.fetch(new Request("http://admin/metrics"))).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ""} `));
  return line ? Number(line.split(" ").pop()) : 0;
}
