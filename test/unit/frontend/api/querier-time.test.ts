import { describe, expect, it } from "vitest";
import { lokiQuerierTimeMs } from "../../../../src/frontend/api/querier-time.js";

const answer = (summary?: Record<string, unknown>) => ({
  status: 200,
  contentType: "application/json",
  json: { status: "success", data: { resultType: "matrix", result: [], ...(summary ? { stats: { summary } } : {}) } },
});

describe("lokiQuerierTimeMs: the querier time a Loki answer cost", () => {
  it("a piece Loki ran as one sub-query: its wall time less the wait Loki reports in its own queue", () => {
    expect(lokiQuerierTimeMs(answer({ queueTime: 0.14, splits: 0, shards: 1, execTime: 0.16 }), 160)).toBeCloseTo(20);
    expect(lokiQuerierTimeMs(answer({ queueTime: 0.001, splits: 1, shards: 0 }), 50)).toBeCloseTo(49);
  });

  it("a piece a querier ran itself (no Loki queue): the execution time it reports, within the wall time", () => {
    expect(lokiQuerierTimeMs(answer({ queueTime: 0, splits: 0, shards: 0, execTime: 0.004 }), 25)).toBeCloseTo(4);
    expect(lokiQuerierTimeMs(answer({ queueTime: 0, splits: 0, shards: 0, execTime: 0.0001 }), 25)).toBe(1);
    expect(lokiQuerierTimeMs(answer({ queueTime: 0, splits: 0, shards: 0, execTime: 0.09 }), 60)).toBe(60);
    // No execution time reported: the wall time, as before.
    expect(lokiQuerierTimeMs(answer({ queueTime: 0, splits: 0, shards: 0 }), 25)).toBe(25);
  });

  it("a piece Loki fanned out: the waits overlap other sub-queries' execution, so the wall time stays", () => {
    expect(lokiQuerierTimeMs(answer({ queueTime: 114.9, splits: 169, shards: 169 }), 2430)).toBe(2430);
    expect(lokiQuerierTimeMs(answer({ queueTime: 0.5, splits: 2, shards: 2 }), 900)).toBe(900);
  });

  it("no stats, or stats that make no sense: the wall time; never below zero nor above the wall time", () => {
    expect(lokiQuerierTimeMs(answer(), 30)).toBe(30);
    expect(lokiQuerierTimeMs({ status: 200, contentType: "application/json" }, 30)).toBe(30);
    expect(lokiQuerierTimeMs(answer({ queueTime: "x", splits: 0 }), 30)).toBe(30);
    expect(lokiQuerierTimeMs(answer({ queueTime: -1, splits: 0 }), 30)).toBe(30);
    // Loki's clock and ours disagree by a little: a wait longer than the wall time still costs 1 ms.
    expect(lokiQuerierTimeMs(answer({ queueTime: 0.05, splits: 0 }), 30)).toBe(1);
  });
});
