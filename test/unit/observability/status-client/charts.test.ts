import { describe, expect, it } from "vitest";
import {
  CHART_IDS,
  chartSeries,
  colorOf,
  pointCount,
  shownIndex,
  stack,
} from "../../../../src/observability/status-client/charts.js";
import { OTHERS } from "../../../../src/observability/status-client/format.js";
import { Samples } from "../../../../src/observability/status-client/samples.js";
import { statusPage } from "../../../../src/observability/status-page.js";

describe("the status page's charts", () => {
  it("stack: each band the sum of itself and those before it, topmost first, gaps as 0", () => {
    expect(
      stack(
        [
          [1, 2, null],
          [10, null, 30],
        ],
        3,
      ),
    ).toEqual([
      [11, 2, 30],
      [1, 2, 0],
    ]);
    expect(stack([], 2)).toEqual([]);
  });

  it("counts the points worth drawing, and shows the cursor's sample or the latest with a value", () => {
    expect(pointCount([[0, null, 1], [2]])).toBe(2);
    expect(shownIndex(1, [5, 6, 7])).toBe(1);
    expect(shownIndex(null, [5, 6, null])).toBe(1);
    expect(shownIndex(undefined, [null, null])).toBe(-1);
  });

  it("the busy chart shows tenants, or the chosen tenant's actors; busy and queue carry their reference line", () => {
    const s = new Samples();
    s.series.busy.set("team-a", [1]);
    s.series.actors.set("users|a", [2]);
    s.series.slots.set("capacity", [4]);
    s.series.held.set("held back", [3]);
    s.series.queue.set("team-a", [5]);
    expect(chartSeries(s, "busy")).toEqual({
      series: [["team-a", [1]]],
      line: [4],
      lineLabel: "querier slots (healthy)",
    });
    s.tenant = "team-a";
    expect(chartSeries(s, "busy").series).toEqual([["users|a", [2]]]);
    expect(chartSeries(s, "queue")).toMatchObject({ series: [["team-a", [5]]], line: [3] });
    expect(chartSeries(s, "wait")).toEqual({ series: [] });
  });

  it("colours: fixed for status classes and percentiles, grey for others, else by rank", () => {
    expect(colorOf("requests", "5xx", 0)).toBe("#e15759");
    expect(colorOf("wait", "p50", 3)).toBe("#4e79a7");
    expect(colorOf("busy", OTHERS, 0)).toBe("#9aa0aa");
    expect(colorOf("busy", "t", 0)).toBe(colorOf("queue", "u", 12));
    expect(colorOf("busy", "t", 0)).not.toBe(colorOf("busy", "t", 1));
  });

  it("every chart the client draws has its element on the page, and no other", () => {
    const { html } = statusPage({ mode: "all", frontend: true, version: "0.0.0", startedAt: 0 });
    const onPage = [...html.matchAll(/data-chart="([^"]+)"/g)].map((m) => m[1]);
    expect(onPage.sort()).toEqual([...CHART_IDS].sort());
  });
});
