// Cost per user on a real Loki, with real users of a real OpenID provider: the "query stats" line with Loki's own
// processed bytes and lines and query hash, per-actor counters bounded to top_actors + 1 series, and the opt-in
// actor directory on the admin listener only.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { run, type Running } from "../../src/node/run.js";
import { logLines } from "../support/log-lines.js";
import { generateHistory, lokiOrSkip, pushHistory, startLoki, type TestLoki } from "../support/loki.js";
import { DEFAULT_ACCOUNTS, startOidcProvider, type TestIdp } from "../support/oidc-provider.js";
import { until } from "../support/ready-process.js";

const bin = lokiOrSkip("test/integration/cost-per-user.test.ts");
const HOUR = 3_600_000;

describe.skipIf(!bin)("cost per user, in front of a real Loki", { timeout: 180_000 }, () => {
  let loki: TestLoki;
  let idp: TestIdp;
  let fairgate: Running;
  const { lines, sink } = logLines();
  const endMs = Math.floor(Date.now() / HOUR) * HOUR - HOUR;

  beforeAll(async () => {
    [loki, idp] = await Promise.all([
      startLoki({ bin, logLevel: "info" }),
      startOidcProvider({
        audience: "fairgate",
        accounts: {
          ...DEFAULT_ACCOUNTS,
          alice: { ...DEFAULT_ACCOUNTS.alice!, email: "alice@example.com" },
        },
      }),
    ]);
    await pushHistory(loki, generateHistory({ tenants: ["team-a", "team-b"], days: 0.5, endMs, meanGapSeconds: 30 }));
    fairgate = await run(
      parseConfig({
        server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" },
        log: { level: "info" },
        status: { actor_directory: { enabled: true, claim: "email" } },
        edge: {
          issuers: [{ issuer: idp.issuer, audiences: ["fairgate"] }],
          tenants: { rules: [{ claim: "tenants", read: ["$value"] }] },
          actor: { secret: "actor-secret-for-tests" },
        },
        frontend: {
          queriers: [{ url: loki.url }],
          limits: { split_log_queries_by_interval: "1h" },
          cache: { results: { enabled: false }, empty_logs: { enabled: false } },
          log_queries_longer_than: "0s",
          top_actors: 1,
        },
      }),
      "all",
      { logDestination: sink },
    );
  }, 180_000);
  afterAll(async () => {
    await fairgate?.close(100);
    await Promise.all([idp?.close(), loki?.close()]);
  });

  // A filter nothing matches: Loki reads every line of the streams in range, and returns none.
  const QUERY = '{app="api"} |= "no line holds this"';
  const range = { start: String((endMs - 4 * HOUR) * 1e6), end: String(endMs * 1e6) };
  const ask = async (base: string, headers: Record<string, string>) => {
    const params = new URLSearchParams({ query: QUERY, ...range, limit: "100", direction: "forward" });
    const res = await fetch(`${base}/loki/api/v1/query_range?${params}`, { headers });
    return { status: res.status, text: await res.text() };
  };

  it("writes a query-stats line with Loki's processed bytes and lines and its query hash", async () => {
    const alice = (await idp.userTokens("alice")).accessToken;
    const through = await ask(fairgate.url, { authorization: `Bearer ${alice}` });
    expect(through.status).toBe(200);
    const line = lines.find((l) => l.msg === "query stats")!;
    expect(line).toMatchObject({
      tenant: "team-a",
      route: "loki:query_range",
      status: 200,
      splits: 4,
      cache_hits: 0, // the results cache is off here
    });
    expect(line.actor).toMatch(/^users\|[0-9a-f]{32}$/);
    expect(line.querier_ms).toEqual(expect.any(Number));
    expect(line.queue_wait_ms).toEqual(expect.any(Number));
    expect(JSON.stringify(line)).not.toContain("no line holds this"); // the hash, never the text

    // What Loki says it read for the same query asked directly, and the hash Loki logs for it.
    const direct = await ask(loki.url, { "x-scope-orgid": "team-a" });
    const summary = (JSON.parse(direct.text) as { data: { stats: { summary: Record<string, number> } } }).data.stats
      .summary;
    expect(summary.totalLinesProcessed).toBeGreaterThan(100);
    expect(line.processed_lines).toBe(summary.totalLinesProcessed);
    expect(line.processed_bytes).toBe(summary.totalBytesProcessed);
    // Loki's log comes through a pipe: its line for this query may arrive after the answer.
    await until(
      "Loki's log line with the query hash",
      async () => loki.logs().includes(`query_hash=${line.query_hash}`),
      10_000,
    );
  });

  it("shows who is behind an actor hash on the admin listener only", async () => {
    const alice = (await idp.userTokens("alice")).accessToken;
    expect((await ask(fairgate.url, { authorization: `Bearer ${alice}` })).status).toBe(200);
    const actor = lines.findLast((l) => l.msg === "query stats")!.actor as string;

    const status = (await (await fetch(`${fairgate.adminUrl}/debug/status`)).json()) as {
      actors: { rows: { actor: string; name: unknown }[] };
    };
    expect(status.actors.rows.find((r) => r.actor === actor)?.name).toEqual({
      id: "alice",
      claim: "alice@example.com",
    });
    const directory = (await (await fetch(`${fairgate.adminUrl}/debug/actors`)).json()) as { actors: unknown[] };
    expect(directory.actors).toContainEqual(
      expect.objectContaining({ actor, id: "alice", claim: "alice@example.com", tenants: ["team-a"] }),
    );

    // The public listener knows no such route, and its answers never carry a name.
    for (const path of ["/debug/actors", "/debug/status"]) {
      const res = await fetch(`${fairgate.url}${path}`, { headers: { authorization: `Bearer ${alice}` } });
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain("alice");
    }
    const answer = await ask(fairgate.url, { authorization: `Bearer ${alice}` });
    expect(answer.text).not.toContain("alice");
    expect(loki.logs()).not.toContain("alice@example.com");
  });

  it("counts queries and querier time per actor in at most top_actors + 1 series", async () => {
    for (const user of ["alice", "bob", "carol"]) {
      const token = (await idp.userTokens(user)).accessToken;
      const tenant = user === "bob" ? "team-b" : "team-a";
      expect((await ask(fairgate.url, { authorization: `Bearer ${token}`, "x-scope-orgid": tenant })).status).toBe(200);
    }
    const metrics = await (await fetch(`${fairgate.adminUrl}/metrics`)).text();
    const series = (name: string) => metrics.split("\n").filter((l) => l.startsWith(`${name}{`));
    for (const name of ["fairgate_actor_queries_total", "fairgate_actor_querier_seconds_total"]) {
      expect(series(name)).toHaveLength(2);
      expect(series(name).some((l) => l.startsWith(`${name}{tenant="",actor="other"}`))).toBe(true);
    }
    const queries = series("fairgate_actor_queries_total").map((l) => Number(l.split(" ").at(-1)));
    // Six queries so far; a series that lost its place to a busier actor takes its count with it.
    expect(queries.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(6);
    expect(queries.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
  });
});
