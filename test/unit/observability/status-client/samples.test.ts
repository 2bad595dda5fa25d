import { describe, expect, it } from "vitest";
import { OTHERS } from "../../../../src/observability/status-client/format.js";
import { MISSING, ordered, Samples } from "../../../../src/observability/status-client/samples.js";
import type { HistoryData, HistorySource } from "../../../../src/observability/status-history.js";

type Charts = Partial<Record<HistorySource, { key: string; values: (number | null)[] }[]>>;

/** A /debug/history answer: `times` new samples after `seq`, in a window of `window` samples. */
function answer(seq: number, times: number[], charts: Charts, window = 5): HistoryData {
  const empty = Object.fromEntries(Object.keys(MISSING).map((k) => [k, []])) as unknown as HistoryData["charts"];
  return { now: 0, seq, intervalMs: 1000, windowMs: window * 1000, times, charts: { ...empty, ...charts } };
}

describe("the status page's samples", () => {
  it("appends each answer's samples aligned by time; a series absent from an answer gets 0, a measurement a gap", () => {
    const s = new Samples();
    s.merge(answer(1, [1, 2], { busy: [{ key: "a", values: [1, 2] }], wait: [{ key: "p50", values: [0.1, 0.2] }] }));
    s.merge(answer(3, [3, 4], { busy: [{ key: "b", values: [5, 6] }], wait: [{ key: "p99", values: [0.5, null] }] }));
    expect(s.seq).toBe(3);
    expect(s.times).toEqual([1, 2, 3, 4]);
    expect(s.series.busy.get("a")).toEqual([1, 2, 0, 0]);
    expect(s.series.busy.get("b")).toEqual([0, 0, 5, 6]);
    expect(s.series.wait.get("p50")).toEqual([0.1, 0.2, null, null]);
    expect(s.series.wait.get("p99")).toEqual([null, null, 0.5, null]);
  });

  it("keeps one window of samples, and drops a series with nothing left in it", () => {
    const s = new Samples();
    s.merge(answer(2, [1, 2, 3], { queue: [{ key: "old", values: [4, 0, 0] }] }, 3));
    s.merge(answer(4, [4, 5], { queue: [{ key: "new", values: [1, 1] }] }, 3));
    expect(s.times).toEqual([3, 4, 5]);
    expect(s.series.queue.get("new")).toEqual([0, 1, 1]);
    expect(s.series.queue.has("old")).toBe(false);
  });

  it("an answer without samples changes nothing; reset forgets all and bumps the generation", () => {
    const s = new Samples();
    s.merge(answer(1, [1], { requests: [{ key: "2xx", values: [3] }] }));
    s.merge(answer(9, [], {}));
    expect(s.seq).toBe(1);
    const g = s.generation;
    s.reset();
    expect([s.seq, s.times, s.series.requests.size, s.generation]).toEqual([-1, [], 0, g + 1]);
  });

  it("last and recent: the latest value, and the mean of the last ten", () => {
    const s = new Samples();
    const values = Array.from({ length: 12 }, (_, i) => i);
    s.merge(answer(12, values, { requests: [{ key: "5xx", values }] }, 20));
    expect(s.last("requests", "5xx")).toBe(11);
    expect(s.recent("requests", "5xx")).toBe(6.5); // 2..11
    expect(s.recent("requests", "4xx")).toBe(0);
    expect(s.last("requests", "4xx")).toBe(0);
  });

  it("ordered: biggest sum first, gaps as 0, others last whatever its size", () => {
    const series = new Map<string, (number | null)[]>([
      [OTHERS, [100, 100]],
      ["small", [1, null]],
      ["big", [3, 4]],
    ]);
    expect(ordered(series).map(([k]) => k)).toEqual(["big", "small", OTHERS]);
  });
});
