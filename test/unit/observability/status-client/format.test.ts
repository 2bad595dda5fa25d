import { describe, expect, it } from "vitest";
import {
  actorPath,
  ago,
  chartValue,
  count,
  duration,
  NONE,
  OTHERS,
  percent,
  plural,
  seriesLabel,
  uptime,
} from "../../../../src/observability/status-client/format.js";

describe("status page formatting", () => {
  it("durations in the largest unit that keeps them short, one decimal at most", () => {
    expect([0, 0.4, 999.4, 1000, 2500, 59_999, 60_000, 90_000, 3_599_999, 3_600_000, 5_400_000].map(duration)).toEqual([
      "0 ms",
      "0 ms",
      "999 ms",
      "1 s",
      "2.5 s",
      "60 s",
      "1 min",
      "1.5 min",
      "60 min",
      "1 h",
      "1.5 h",
    ]);
    expect(duration(-2500)).toBe("2.5 s");
  });

  it("uptime: seconds, then minutes, then hours and minutes, then days and hours", () => {
    expect(uptime(12_345)).toBe("12 s");
    expect(uptime(4 * 60_000 + 59_000)).toBe("4 min");
    expect(uptime(65 * 60_000)).toBe("1 h 5 min");
    expect(uptime((2 * 24 + 3) * 3_600_000 + 59 * 60_000)).toBe("2 d 3 h");
  });

  it("ago: from the server's clock, never negative, never for a missing time", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(ago("2026-01-01T11:59:59.5Z", now)).toBe("just now");
    expect(ago("2026-01-01T12:00:05Z", now)).toBe("just now"); // the server's clock ahead of the row: not "-5 s"
    expect(ago("2026-01-01T11:59:48Z", now)).toBe("12 s ago");
    expect(ago("2026-01-01T11:57:00Z", now)).toBe("3 min ago");
    expect(ago(null, now)).toBe("never");
    expect(ago(undefined, now)).toBe("never");
  });

  it("counts, plurals and shares", () => {
    expect(plural(1, "tenant", "tenants")).toBe("1 tenant");
    expect(plural(0, "tenant", "tenants")).toBe("0 tenants");
    expect(plural(12_345, "query", "queries")).toBe(`${count(12_345)} queries`);
    expect(percent(1, 8)).toBe("12.5 %");
    expect(percent(0, 0)).toBe(NONE);
  });

  it("actor paths and series names as the page prints them", () => {
    expect(actorPath("users|5f0c2a9e")).toBe("users|5f0c2a9e"); // as in the logs: a copied path greps
    expect(actorPath("users")).toBe("users");
    expect(seriesLabel("team-a")).toBe("team-a");
    expect(seriesLabel("users|b9ae")).toBe("users|b9ae");
    expect(seriesLabel("")).toBe("(no actor path)");
    expect(seriesLabel(OTHERS)).toBe("others");
  });

  it("chart values: a gap is a dash; seconds below 1 in ms; ratios whole; counts rounded by size", () => {
    expect(chartValue(null, "s")).toBe(NONE);
    expect(chartValue(undefined, "slots")).toBe(NONE);
    expect(chartValue(0.25, "s")).toBe("250 ms");
    expect(chartValue(2.345, "s")).toBe("2.3 s");
    expect(chartValue(99.6, "%")).toBe("100 %");
    expect(chartValue(1.234, "slots")).toBe("1.23");
    expect(chartValue(12.6, "req/s")).toBe("13");
  });
});
