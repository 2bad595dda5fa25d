import { describe, expect, it } from "vitest";
import { parsePromTime } from "../../../../src/frontend/api/prometheus-params.js";
import { formatSeconds, msToNs, nsToMs, parseLokiTime, parseStepMs } from "../../../../src/frontend/api/time.js";
import { rng } from "../../../support/rng.js";

const S = 1_000_000_000n;
// 2026-11-19T00:00:00Z
const T0 = 1_795_046_400n;

describe("parseLokiTime", () => {
  it.each([
    ["1795046400000000000", T0 * S],
    ["1795046400000000001", T0 * S + 1n],
    // up to 10 digits: seconds
    ["1795046400", T0 * S],
    ["0", 0n],
    ["1", S],
    ["-1", -S],
    ["4102444800", 4_102_444_800n * S],
    // 11 digits and more: nanoseconds
    ["17950464000", 17_950_464_000n],
    ["9223372036854775807", 9_223_372_036_854_775_807n],
    // fractional seconds, exact to the nanosecond (no float rounding)
    ["1795046400.5", T0 * S + 500_000_000n],
    ["1795046400.123456789", T0 * S + 123_456_789n],
    ["1795046400.000000001", T0 * S + 1n],
    ["1795046400.999999999", T0 * S + 999_999_999n],
    ["-1.5", -1_500_000_000n],
    // RFC3339
    ["2026-11-19T00:00:00Z", T0 * S],
    ["2026-11-19T00:00:00.000000001Z", T0 * S + 1n],
    ["2026-11-19T00:00:00.5Z", T0 * S + 500_000_000n],
    ["2026-11-19T00:00:00.123456789Z", T0 * S + 123_456_789n],
    ["2026-11-19T02:00:00+02:00", T0 * S],
    ["2026-11-18T19:00:00-05:00", T0 * S],
    ["2026-11-19T05:30:00.25+05:30", T0 * S + 250_000_000n],
    ["2026-11-18T23:59:59.999999999Z", T0 * S - 1n],
    ["1970-01-01T00:00:00Z", 0n],
    ["2024-02-29T00:00:00Z", 1_709_164_800n * S],
  ] as const)("%j is %s ns", (input, ns) => expect(parseLokiTime(input)).toBe(ns));

  it.each([
    "",
    " ",
    "abc",
    "1h",
    "now",
    "1.2.3",
    "--1",
    "1e9",
    "0x10",
    "2026-11-19",
    "2026-11-19T00:00:00",
    "2026-11-19T00:00Z",
    "2026-11-19T00:00:00+0200",
    "2026-11-19T00:00:00.1234567890Z",
    "9223372036854775808",
    "99999999999999999999",
  ])("%j is invalid", (input) => expect(parseLokiTime(input)).toBeUndefined());

  // Go's time.Parse (Loki, Prometheus) rejects fields out of range; Date.UTC silently rolls them over.
  it.each([
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-11-19T24:00:00Z",
    "2026-11-19T23:60:00Z",
    "2026-11-19T23:59:60Z",
    "2025-02-29T00:00:00Z",
  ])("%j (a field out of range) is invalid", (input) => {
    expect(parseLokiTime(input)).toBeUndefined();
    expect(parsePromTime(input)).toBeUndefined();
  });

  it("never reads years before 100 as 1900..1999 (Date.UTC would)", () => {
    expect(parseLokiTime("0050-01-01T00:00:00Z")).toBeUndefined(); // outside int64 nanoseconds
    const year50 = new Date(0);
    year50.setUTCFullYear(50, 0, 1);
    expect(parsePromTime("0050-01-01T00:00:00Z")).toBe(BigInt(year50.getTime()) * 1_000_000n); // Prometheus reads it
    expect(parsePromTime("1700-01-01T00:00:00Z")).toBe(BigInt(Date.UTC(1700, 0, 1)) * 1_000_000n);
  });
});

describe("parseStepMs", () => {
  it.each([
    ["60000ms", 60_000],
    ["1m", 60_000],
    ["15", 15_000],
    ["0.5", 500],
    ["1h30m", 5_400_000],
    ["3600", 3_600_000],
    ["0.001", 1],
    ["15s", 15_000],
    ["0", 0],
  ] as const)("%j is %d ms", (input, ms) => expect(parseStepMs(input)).toBe(ms));

  it.each(["", "abc", "-1", "-1s", "1 m", "m", "1x", "NaN", "Infinity"])("%j is invalid", (input) =>
    expect(parseStepMs(input)).toBeUndefined(),
  );
});

describe("formatSeconds", () => {
  it.each([
    [T0 * S, "1795046400"],
    [T0 * S + 500_000_000n, "1795046400.5"],
    [T0 * S + 123_456_789n, "1795046400.123456789"],
    [T0 * S + 1n, "1795046400.000000001"],
    [0n, "0"],
    [1n, "0.000000001"],
    [-1_500_000_000n, "-1.5"],
    [-1n, "-0.000000001"],
  ] as const)("%s ns is %j", (ns, text) => expect(formatSeconds(ns)).toBe(text));

  // Prometheus reads float seconds to the millisecond, and fairgate sends it whole milliseconds.
  it("round trips through parseLokiTime (within ten digits of seconds) and, in whole ms, parsePromTime", () => {
    const r = rng(42);
    for (let i = 0; i < 3000; i++) {
      const sec = BigInt(Math.floor(r() * 4_000_000_000)) - 1_000_000_000n;
      const frac = i % 3 === 0 ? 0n : BigInt(Math.floor(r() * 1e9));
      const sign = sec < 0n ? -1n : 1n;
      const ns = sec * S + sign * frac;
      const text = formatSeconds(ns);
      if (!/^-?\d+$/.test(text) || text.replace("-", "").length <= 10) expect(parseLokiTime(text)).toBe(ns);
      const ms = sec * S + sign * (frac / 1_000_000n) * 1_000_000n;
      expect(parsePromTime(formatSeconds(ms))).toBe(ms);
    }
  });

  it("ms helpers convert exactly", () => {
    expect(msToNs(1500)).toBe(1_500_000_000n);
    expect(msToNs(1.4)).toBe(1_400_000n); // steps of fractional milliseconds are valid
    expect(nsToMs(1_999_999n)).toBe(1);
    expect(nsToMs(T0 * S)).toBe(Number(T0) * 1000);
  });
});
