import { describe, expect, it } from "vitest";
import { goQuote, parseGoFloat } from "../../../../src/frontend/api/go-syntax.js";
import { floorMs, goSub, parsePromDuration, parsePromTime } from "../../../../src/frontend/api/prometheus-params.js";

// Every expectation here was checked against Prometheus 2.42 (Go's strconv and time packages).
const S = 1_000_000_000n;

describe("parseGoFloat reads numbers as Go's strconv.ParseFloat", () => {
  it.each([
    ["1e2", 100],
    ["1E2", 100],
    ["1e+2", 100],
    ["+60", 60],
    ["-1", -1],
    ["60.", 60],
    [".5", 0.5],
    [".5e2", 50],
    ["0.5e-3", 0.0005],
    ["1.795766e+09", 1_795_766_000],
    ["1_000", 1000],
    ["1_0.5", 10.5],
    ["1e1_0", 1e10],
    ["0x1p4", 16],
    ["0X10P0", 16],
    ["0x1.8p5", 48],
    ["0x_1p6", 64],
    ["0x1_0p0", 16],
    ["0x.8p1", 1],
    ["0x1.p1", 2],
    ["1e-400", 0], // too small: 0, no error
    ["Inf", Infinity],
    ["+Inf", Infinity],
    ["inf", Infinity],
    ["+infinity", Infinity],
    ["-Inf", -Infinity],
  ])("%j is %d", (s, n) => expect(parseGoFloat(s)).toBe(n));

  it.each(["NaN", "nan", "nAn"])("%j is NaN", (s) => expect(parseGoFloat(s)).toBeNaN());

  it.each([
    "",
    " 60",
    "60 ",
    "0x10", // a hexadecimal mantissa needs its p exponent
    "0x",
    "0b1",
    "0o7",
    "1__0",
    "_10",
    "10_",
    "1._5",
    "1_e5",
    "1e_5",
    "0x1p_1",
    "1e400", // out of range
    "-nan",
    "+nan",
    "infin",
    ".",
    "+",
    "1e",
    "1e+",
    "1.5.5",
    "1m",
  ])("%j is refused", (s) => expect(parseGoFloat(s)).toBeUndefined());
});

describe("goQuote is Go's %q", () => {
  it.each([
    ["abc", '"abc"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ["\x01\x7f", '"\\x01\\x7f"'],
    ["\n\t\r\x07\b\f\v", '"\\n\\t\\r\\a\\b\\f\\v"'],
    ["é 😀", '"é 😀"'],
    ["\u00a0\u200b", '"\\u00a0\\u200b"'],
    ["\u{e0001}", '"\\U000e0001"'],
  ])("%j → %s", (s, quoted) => expect(goQuote(s)).toBe(quoted));
});

describe("parsePromTime reads times as Prometheus' parseTime", () => {
  it.each([
    ["1795765680", 1_795_765_680n * S],
    ["+1795765680", 1_795_765_680n * S],
    ["1795765680.", 1_795_765_680n * S],
    ["1.795766e+09", 1_795_766_000n * S],
    ["1795765680.123", 1_795_765_680_123_000_000n],
    // float seconds are rounded to the millisecond, halves away from zero
    ["1795765680.123456789", 1_795_765_680_123_000_000n],
    ["1795765680.0015", 1_795_765_680_001_000_000n],
    ["1795765680.9996", 1_795_765_681n * S],
    ["-1.5", -1_500_000_000n],
    ["-0", 0n],
    ["0x1p0", S],
    ["1e12", 1_000_000_000_000n * S], // past int64 ns, but a time to Prometheus
    // RFC3339 keeps nanoseconds; "," before the fraction and any two-digit zone, as Go 1.19 reads them
    ["2026-11-22T00:00:00Z", 1_795_305_600n * S],
    ["2026-11-22T00:00:00.000000001Z", 1_795_305_600n * S + 1n],
    ["2026-11-22T00:00:00,5Z", 1_795_305_600n * S + S / 2n],
    ["2026-11-22T00:00:00+23:60", 1_795_219_200n * S],
    ["2026-11-22T00:00:00-00:00", 1_795_305_600n * S],
    ["-292273086-05-16T16:47:06Z", -9_223_309_901_257_974n * S],
    ["292277025-08-18T07:12:54.999999999Z", 9_223_309_901_257_974n * S + S - 1n],
  ])("%j is %s ns", (s, ns) => expect(parsePromTime(s)).toBe(ns));

  // Go turns Inf and NaN into the smallest int64 and its time arithmetic wraps around: a time about
  // 292 billion years before 1970, which Prometheus compares and subtracts like any other.
  it("Inf and NaN become the time Go makes of them", () => {
    const nan = parsePromTime("NaN")!;
    expect(nan).toBe(-9_223_372_046_078_147_845n * S + 145_224_192n);
    expect(parsePromTime("Inf")).toBe(nan);
    expect(parsePromTime("-Inf")).toBe(nan);
    expect(parsePromTime("1e19")).toBe(-(1n << 63n) * S); // past int64 seconds: the smallest int64
  });

  it.each([
    "",
    " 1795765680",
    "0x10",
    "1__0",
    "1e400",
    "abc",
    "2026-11-22t00:00:00z",
    "2026-11-22 00:00:00Z",
    "2026-11-22T00:00:00.Z",
    "2026-11-22T00:00:00.1234567891Z",
    "2026-11-22T00:00:00+0100",
    "2026-11-22T00:00:00+01:00:00",
    "+2026-11-22T00:00:00Z",
    "2026-1-22T00:00:00Z",
    "2026-02-30T00:00:00Z",
  ])("%j is refused", (s) => expect(parsePromTime(s)).toBeUndefined());
});

describe("parsePromDuration reads steps as Prometheus' parseDuration", () => {
  it.each([
    ["60", 60n * S],
    ["1e2", 100n * S],
    ["0.1", 100_000_000n],
    ["1e-10", 0n], // truncated to whole nanoseconds
    ["-1", -S],
    ["1m", 60n * S],
    ["1h30m", 5400n * S],
    ["1y", 31_536_000n * S],
    ["1w2d", 9n * 86_400n * S],
    ["500ms", 500_000_000n],
    ["1m0s", 60n * S],
    ["0", 0n],
    ["0s", 0n],
    ["NaN", -(1n << 63n)], // Go's conversion: then "zero or negative"
  ])("%j is %s ns", (s, ns) => expect(parsePromDuration(s)).toBe(ns));

  it.each([
    ["", 'cannot parse "" to a valid duration'],
    ["1.5m", 'cannot parse "1.5m" to a valid duration'],
    ["30s1m", 'cannot parse "30s1m" to a valid duration'],
    ["1 m", 'cannot parse "1 m" to a valid duration'],
    ["0x10", 'cannot parse "0x10" to a valid duration'],
    ["300y", 'cannot parse "300y" to a valid duration'], // past int64 ns
    ["Inf", 'cannot parse "Inf" to a valid duration. It overflows int64'],
    ["-1e10", 'cannot parse "-1e10" to a valid duration. It overflows int64'],
  ])("%j is refused: %s", (s, message) => expect((parsePromDuration(s) as Error).message).toBe(message));
});

describe("goSub saturates as Go's Time.Sub", () => {
  it("within int64, the difference; beyond, the largest or smallest int64", () => {
    expect(goSub(10n, 3n)).toBe(7n);
    expect(goSub(1n << 70n, 0n)).toBe((1n << 63n) - 1n);
    expect(goSub(0n, 1n << 70n)).toBe(-(1n << 63n));
  });
  it("floorMs drops what is below the millisecond, towards the past", () => {
    expect(floorMs(1_999_999n)).toBe(1_000_000n);
    expect(floorMs(-1n)).toBe(-1_000_000n);
    expect(floorMs(-1_000_000n)).toBe(-1_000_000n);
  });
});
