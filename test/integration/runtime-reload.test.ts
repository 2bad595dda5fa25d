// runtime_config: tenant rules and limits reloaded from a file while real users query a real Prometheus through
// the edge. No query fails while the file changes; a broken file is refused and kept out; a query in flight keeps
// the limits it started with.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { run, type Running } from "../../src/node/run.js";
import { logLines } from "../support/log-lines.js";
import { startOidcProvider, type TestIdp } from "../support/oidc-provider.js";
import { startPrometheus, type TestPrometheus } from "../support/prometheus.js";

/** Forwards to Prometheus; a query whose text holds "held" waits until release() (a query in flight, for sure). */
async function holdingProxy(target: string) {
  const held: (() => void)[] = [];
  let open = false;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const send = () => {
        const up = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode!, answer.headers);
          answer.pipe(res);
        });
        up.end(body);
      };
      if (!open && decodeURIComponent(`${req.url}${body}`).includes("held")) held.push(send);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held.length,
    release: () => {
      open = true;
      for (const send of held.splice(0)) send();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const yaml = (value: unknown) => JSON.stringify(value); // YAML is a superset of JSON

describe("runtime_config reloaded under load", { timeout: 180_000 }, () => {
  let prom: TestPrometheus;
  let idp: TestIdp;
  let proxy: Awaited<ReturnType<typeof holdingProxy>>;
  let fairgate: Running;
  let dir: string;
  let file: string;
  const { lines, sink } = logLines();
  const rules = (extra: unknown[] = []) => ({
    edge: { tenants: { rules: [{ claim: "tenants", read: ["$value"] }, ...extra] } },
  });
  const write = (value: unknown) => writeFileSync(file, typeof value === "string" ? value : yaml(value));

  beforeAll(async () => {
    [prom, idp] = await Promise.all([startPrometheus({ days: 2 }), startOidcProvider({ audience: "fairgate" })]);
    proxy = await holdingProxy(prom.url);
    dir = mkdtempSync(join(tmpdir(), "fairgate-runtime-"));
    file = join(dir, "runtime.yaml");
    write(rules());
    fairgate = await run(
      parseConfig({
        server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" },
        log: { level: "info" },
        runtime_config: { file, period: "1s" },
        edge: {
          issuers: [{ issuer: idp.issuer, audiences: ["fairgate"] }],
          tenants: { rules: [{ claim: "nothing", read: ["nobody"] }] }, // replaced by the runtime file
          actor: { secret: "actor-secret-for-tests" },
        },
        frontend: {
          queriers: [{ url: proxy.url }],
          limits: { split_metric_queries_by_interval: "6h" },
          cache: { results: { enabled: false } },
        },
      }),
      "all",
      { logDestination: sink },
    );
  }, 180_000);
  afterAll(async () => {
    proxy?.release();
    await fairgate?.close(100);
    await Promise.all([proxy?.close(), idp?.close(), prom?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const query = async (token: string, tenant: string, hours: number, promql = "sum(rate(http_requests_total[5m]))") => {
    const end = prom.end - 600;
    const params = new URLSearchParams({
      query: promql,
      start: String(end - hours * 3600),
      end: String(end),
      step: "60",
    });
    const res = await fetch(`${fairgate.url}/api/v1/query_range?${params}`, {
      headers: { authorization: `Bearer ${token}`, "x-scope-orgid": tenant },
    });
    return { status: res.status, body: await res.text() };
  };

  it("changes rules and limits without a failed query, refuses a broken file and keeps what is in force", async () => {
    const alice = (await idp.userTokens("alice")).accessToken; // tenants: team-a
    expect((await query(alice, "team-b", 1)).status).toBe(403);

    // Alice queries all along, four at a time, a bounded number of times, until the file has changed enough.
    let changing = true;
    const statuses: number[] = [];
    const loop = async () => {
      for (let i = 0; i < 2000 && changing; i++) {
        const r = await query(alice, "team-a", 1);
        statuses.push(r.status);
        if (r.status !== 200) throw new Error(`query failed while the file changed: ${r.status} ${r.body}`);
      }
    };
    const loops = [loop(), loop(), loop(), loop()];

    // SIGHUP's reload: a rule grants alice team-b too.
    write(rules([{ claim: "tenants", values: ["team-a"], read: ["team-b"] }]));
    expect(fairgate.reload()).toEqual([{ ok: true, line: `reloaded runtime config ${file} (edge.tenants)` }]);
    expect((await query(alice, "team-b", 1)).status).toBe(200);

    // The period's reload: team-a's queries may cover 3 hours at most.
    write({ ...rules(), frontend: { tenant_limits: { "team-a": { max_query_length: "3h" } } } });
    await expect.poll(async () => (await query(alice, "team-a", 4)).status, { timeout: 10_000 }).toBe(400);
    expect((await query(alice, "team-a", 4)).body).toContain("limit: 3h");
    expect((await query(alice, "team-b", 1)).status).toBe(403); // the rule went with the new file

    // A broken file: refused, and the one in force stays (team-a limited, no team-b).
    const refusedAt = lines.length;
    write("frontend: { tenant_limits: { team-a: { max_query_length: forever } } }\nedge: { tenants: { rules: [] } }\n");
    const [refused] = fairgate.reload();
    expect(refused!.ok).toBe(false);
    expect(refused!.line).toContain("edge.tenants.rules: add at least one rule");
    expect(refused!.line).toContain('frontend.tenant_limits.team-a.max_query_length: not a duration: "forever"');
    expect(lines.slice(refusedAt)).toContainEqual(
      expect.objectContaining({ level: "error", msg: "runtime config refused: the one in force stays" }),
    );
    const metrics = await (await fetch(`${fairgate.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^fairgate_runtime_config_last_reload_successful 0$/m);
    const status = (await (await fetch(`${fairgate.adminUrl}/debug/runtime-config`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({
      file,
      lastReloadSuccessful: false,
      sections: ["edge.tenants", "frontend.tenant_limits"],
    });
    expect(status.error).toContain("not a duration");
    // The status page shows it: its data, and the element it writes it in.
    const history = (await (await fetch(`${fairgate.adminUrl}/debug/history`)).json()) as Record<string, unknown>;
    expect(history.runtimeConfig).toEqual(status);
    expect(await (await fetch(`${fairgate.adminUrl}/status`)).text()).toContain('id="runtime-config"');
    expect((await query(alice, "team-a", 4)).status).toBe(400);
    expect((await query(alice, "team-a", 1)).status).toBe(200);

    // Mended, it is taken at the next period.
    write(rules());
    await expect.poll(async () => (await query(alice, "team-a", 4)).status, { timeout: 10_000 }).toBe(200);
    expect(await (await fetch(`${fairgate.adminUrl}/metrics`)).text()).toMatch(
      /^fairgate_runtime_config_last_reload_successful 1$/m,
    );

    changing = false;
    await Promise.all(loops);
    expect(statuses.length).toBeGreaterThanOrEqual(8);
    expect(new Set(statuses)).toEqual(new Set([200]));
  });

  it("reloads label policies: a rule's labels narrow what its users see from the next query on", async () => {
    const alice = (await idp.userTokens("alice")).accessToken;
    const jobs = async () => {
      const r = await query(alice, "team-a", 1, "sum by (job) (rate(http_requests_total[5m]))");
      expect(r.status).toBe(200);
      const result = (JSON.parse(r.body) as { data: { result: { metric: { job: string } }[] } }).data.result;
      return result.map((s) => s.metric.job).sort();
    };
    write(rules());
    fairgate.reload();
    expect(await jobs()).toEqual(["api", "worker"]);
    write({ edge: { tenants: { rules: [{ claim: "tenants", read: ["$value"], labels: ['job="api"'] }] } } });
    expect(fairgate.reload()[0]!.ok).toBe(true);
    expect(await jobs()).toEqual(["api"]);
  });

  it("a query in flight keeps the limits it started with", async () => {
    const alice = (await idp.userTokens("alice")).accessToken;
    write(rules());
    fairgate.reload();
    const long = query(alice, "team-a", 24, 'sum(rate(http_requests_total{job!="held"}[5m]))');
    await expect.poll(proxy.held).toBeGreaterThan(0);
    write({ ...rules(), frontend: { tenant_limits: { "team-a": { max_query_length: "1h" } } } });
    expect(fairgate.reload()[0]!.ok).toBe(true);
    const refused = await query(alice, "team-a", 24, 'sum(rate(http_requests_total{job!="held"}[5m]))');
    expect(refused.status).toBe(400);
    proxy.release();
    const answered = await long;
    expect(answered.status).toBe(200);
    const result = (JSON.parse(answered.body) as { data: { result: { values: unknown[] }[] } }).data.result;
    expect(result[0]!.values.length).toBeGreaterThan(1000); // 24 hours by the minute, from every split
  });

  it("reloads a user group's limits and blocked queries, for a token already in use", async () => {
    const alice = (await idp.userTokens("alice")).accessToken;
    write(rules());
    fairgate.reload();
    expect((await query(alice, "team-a", 6)).status).toBe(200);
    const limited = {
      claim: "tenants",
      values: ["team-a"],
      limits: {
        max_query_length: "2h",
        blocked_queries: [{ pattern: "count\\(", regex: true, reason: "no counting" }],
      },
    };
    write(rules([limited]));
    expect(fairgate.reload()[0]!.ok).toBe(true);
    const six = await query(alice, "team-a", 6);
    expect([six.status, JSON.parse(six.body).error]).toEqual([
      400,
      "the query time range exceeds the limit (query length: 6h, limit: 2h); try a smaller time range",
    ]);
    const counting = await query(alice, "team-a", 1, "count(up)");
    expect([counting.status, JSON.parse(counting.body).error]).toEqual([400, "query blocked by policy: no counting"]);
    write(rules());
    expect(fairgate.reload()[0]!.ok).toBe(true);
    expect((await query(alice, "team-a", 6)).status).toBe(200);
  });
});
