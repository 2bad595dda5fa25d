import { describe, expect, it } from "vitest";
import { parseDurationMs } from "../../src/config/duration.js";

describe("durations", () => {
  it.each([
    ["30s", 30_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["7d", 604_800_000],
    ["60000ms", 60_000],
    ["15", 15_000],
    ["0.5", 500],
    [30, 30_000],
  ] as const)("%s is %d ms", (input, ms) => expect(parseDurationMs(input)).toBe(ms));

  it.each(["", "soon", "5 m", "-1s", "1h-", "m5", Number.NaN, -3])("%s is invalid", (input) =>
    expect(parseDurationMs(input)).toBeUndefined(),
  );
});
