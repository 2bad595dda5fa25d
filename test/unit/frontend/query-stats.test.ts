import { describe, expect, it } from "vitest";
import { lokiProcessed } from "../../../src/frontend/api/querier-time.js";
import { queryHash, queryStatsLine } from "../../../src/frontend/query-stats.js";
import { emptyCacheStats, type QueryContext, type QueryRequest } from "../../../src/frontend/types.js";
import { loadFixture } from "../../support/fixture-querier.js";

describe("the query-stats line", () => {
  it("hashes a query as Loki 3.4.6 logs it (query_hash)", () => {
    // From a real Loki's log line for this query.
    expect(queryHash('{app="api"} |= "no line holds this"')).toBe(3844121087);
  });

  it("reads Loki's processed bytes and lines from an answer's stats", () => {
    const fixture = loadFixture("log_2d_forward_full");
    expect(lokiProcessed({ status: 200, contentType: "application/json", json: fixture.response })).toEqual({
      bytes: 7789943,
      lines: 63546,
    });
    expect(lokiProcessed({ status: 200, contentType: "application/json", json: { data: {} } })).toBeUndefined();
  });

  it("tells who and what it cost, never the query text", () => {
    const req = { api: "loki", kind: "log", path: "/loki/api/v1/query_range", query: '{app="x"} |= "secret"' };
    const ctx = {
      identity: { subject: "s", tenants: ["a", "b"], actorPath: "users|abc", scopes: [] },
      stats: {
        splits: 3,
        queueWaitMs: 1.4,
        querierMs: 20.6,
        retries: 0,
        cache: { ...emptyCacheStats(), hit: 1, miss: 2 },
        processed: { bytes: 10, lines: 2 },
      },
    };
    const line = queryStatsLine(req as QueryRequest, ctx as unknown as QueryContext, 200, 33.3);
    expect(line).toEqual({
      tenant: "a|b",
      actor: "users|abc",
      route: "loki:query_range",
      query_hash: queryHash('{app="x"} |= "secret"'),
      status: 200,
      duration_ms: 33,
      querier_ms: 21,
      queue_wait_ms: 1,
      splits: 3,
      cache_hits: 1,
      cache_partial: 0,
      cache_misses: 2,
      retries: 0,
      processed_bytes: 10,
      processed_lines: 2,
    });
    expect(JSON.stringify(line)).not.toContain("secret");
  });
});
