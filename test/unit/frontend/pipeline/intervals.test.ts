import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { intervalSplits, metricSplits, type Range } from "../../../../src/frontend/pipeline/intervals.js";
import { rng } from "../../../support/rng.js";

const FIXTURES = new URL("../../../support/fixtures/loki/", import.meta.url);
const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), "utf8")) as {
    request: { params: Record<string, string> };
  };

const S = 1_000_000_000n;
const HOUR = 3600n * S;
const DAY = 24n * HOUR;
const at = (iso: string) => BigInt(Date.parse(iso)) * 1_000_000n;

const int = (r: () => number, lo: number, hi: number) => BigInt(lo + Math.floor(r() * (hi - lo + 1)));

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** The timestamps a Prometheus-style range query [start, end] with this step evaluates. */
function steps(startNs: bigint, endNs: bigint, stepNs: bigint): bigint[] {
  const out: bigint[] = [];
  for (let t = startNs; t <= endNs; t += stepNs) out.push(t);
  return out;
}

/**
 * Checks the split invariants with plain comparisons (expect() per sample would be slow); returns a problem or
 * undefined.
 */
function metricProblem(
  splits: Range[],
  start: bigint,
  end: bigint,
  step: bigint,
  interval: bigint,
): string | undefined {
  if (splits.length === 0) return "no splits";
  if (splits[0]!.startNs !== start) return "first split does not start at start";
  if (splits.at(-1)!.endNs !== end) return "last split does not end at end";
  // every step timestamp exactly once, in order
  const got = splits.flatMap((r) => steps(r.startNs, r.endNs, step));
  const want = steps(start, end, step);
  if (got.length !== want.length || got.some((t, i) => t !== want[i]))
    return `step timestamps differ: got ${got.join(",")} want ${want.join(",")}`;
  for (let i = 0; i < splits.length; i++) {
    const r = splits[i]!;
    if (r.startNs > r.endNs) return `split ${i} is inverted`;
    const ts = steps(r.startNs, r.endNs, step);
    const last = i === splits.length - 1;
    // within one interval; the last split may take one more step, the query's end, past the boundary
    const inside =
      last && ts.length > 1 && ts.at(-1)! >= (floorDiv(r.startNs, interval) + 1n) * interval ? ts.slice(0, -1) : ts;
    if (inside.some((t) => floorDiv(t, interval) !== floorDiv(r.startNs, interval)))
      return `split ${i} crosses an interval boundary`;
    if (!last) {
      // a non-last split ends on its last step, and the next one starts one step later in a later interval
      if (r.endNs !== ts.at(-1)) return `split ${i} does not end on a step`;
      if (splits[i + 1]!.startNs !== r.endNs + step) return `split ${i + 1} does not start one step after split ${i}`;
      if (!(floorDiv(splits[i + 1]!.startNs, interval) > floorDiv(r.startNs, interval)))
        return `split ${i + 1} starts in the same interval as split ${i}`;
    }
  }
  return undefined;
}

function checkMetricSplits(start: bigint, end: bigint, step: bigint, interval: bigint): Range[] {
  const splits = metricSplits(start, end, step, interval);
  const problem = metricProblem(splits, start, end, step, interval);
  if (problem) expect.fail(`start=${start} end=${end} step=${step} interval=${interval}: ${problem}`);
  return splits;
}

describe("metricSplits", () => {
  it("reproduces the recorded Loki day splits of the 3-day metric query", () => {
    const full = fixture("metric_3d_full").request.params;
    const splits = metricSplits(BigInt(full.start!), BigInt(full.end!), BigInt(full.step!) * S, DAY);
    const recorded = [0, 1, 2]
      .map((i) => fixture(`metric_3d_split_${i}`).request.params)
      .map((p) => ({ startNs: BigInt(p.start!), endNs: BigInt(p.end!) }));
    expect(splits).toEqual(recorded);
    expect(splits).toEqual([
      { startNs: at("2026-11-19T00:00:00Z"), endNs: at("2026-11-19T23:00:00Z") },
      { startNs: at("2026-11-20T00:00:00Z"), endNs: at("2026-11-20T23:00:00Z") },
      { startNs: at("2026-11-21T00:00:00Z"), endNs: at("2026-11-22T00:00:00Z") },
    ]);
  });

  it("cuts an unaligned range at the last step before each boundary", () => {
    // 22:30 .. next day 01:30, step 1h: 22:30, 23:30 | 00:30, 01:30
    const start = at("2026-11-19T22:30:00Z");
    expect(metricSplits(start, start + 3n * HOUR, HOUR, DAY)).toEqual([
      { startNs: start, endNs: start + HOUR },
      { startNs: start + 2n * HOUR, endNs: start + 3n * HOUR },
    ]);
  });

  it("keeps an end that is off the step grid on the last split", () => {
    const start = at("2026-11-19T00:00:00Z");
    const splits = checkMetricSplits(start, start + DAY + 90n * S, 60n * S, DAY);
    expect(splits).toEqual([
      { startNs: start, endNs: start + DAY - 60n * S },
      { startNs: start + DAY, endNs: start + DAY + 90n * S },
    ]);
  });

  it("answers one range when splitting is off, the step is not positive, or the range is one point", () => {
    expect(metricSplits(10n, 100n, 5n, 0n)).toEqual([{ startNs: 10n, endNs: 100n }]);
    expect(metricSplits(10n, 100n, 0n, 50n)).toEqual([{ startNs: 10n, endNs: 100n }]);
    expect(metricSplits(10n, 100n, -5n, 50n)).toEqual([{ startNs: 10n, endNs: 100n }]);
    expect(metricSplits(70n, 70n, 5n, 50n)).toEqual([{ startNs: 70n, endNs: 70n }]);
  });

  it("handles steps longer than the interval and negative times", () => {
    checkMetricSplits(0n, 10_000n, 3000n, 1000n);
    checkMetricSplits(-1234n, 777n, 7n, 100n);
  });

  it("(the checker itself catches a duplicated boundary step, a gap and a crossed boundary)", () => {
    expect(
      metricProblem(
        [
          { startNs: 0n, endNs: 10n },
          { startNs: 10n, endNs: 20n },
        ],
        0n,
        20n,
        5n,
        10n,
      ),
    ).toMatch(/differ/);
    expect(
      metricProblem(
        [
          { startNs: 0n, endNs: 5n },
          { startNs: 15n, endNs: 20n },
        ],
        0n,
        20n,
        5n,
        10n,
      ),
    ).toMatch(/differ/);
    expect(
      metricProblem(
        [
          { startNs: 0n, endNs: 15n },
          { startNs: 20n, endNs: 30n },
        ],
        0n,
        30n,
        5n,
        10n,
      ),
    ).toMatch(/crosses/);
    expect(
      intervalProblem(
        [
          { startNs: 0n, endNs: 10n },
          { startNs: 11n, endNs: 20n },
        ],
        0n,
        20n,
        10n,
      ),
    ).toMatch(/gap|boundary/);
  });

  it("evaluates every step once over thousands of random small ranges", () => {
    const r = rng(7);
    for (let i = 0; i < 4000; i++) {
      const interval = int(r, 1, 60);
      const step = int(r, 1, 70);
      const start = int(r, -300, 300);
      const end = start + int(r, 0, 700);
      checkMetricSplits(start, end, step, interval);
    }
  });

  it("evaluates every step once over random realistic ranges (ns, seconds steps, hour/day intervals)", () => {
    const r = rng(11);
    const stepsS = [1, 10, 15, 30, 60, 97, 300, 3600, 7200];
    for (let i = 0; i < 1500; i++) {
      const interval = r() < 0.5 ? HOUR : DAY;
      const step = BigInt(stepsS[Math.floor(r() * stepsS.length)]!) * S + (r() < 0.1 ? int(r, 1, 999_999_999) : 0n);
      const start = at("2026-11-19T00:00:00Z") + int(r, 0, 86_400) * S + (r() < 0.2 ? int(r, 0, 999_999_999) : 0n);
      const n = Number(int(r, 0, 1000));
      const end = start + step * BigInt(n) + (r() < 0.5 ? 0n : int(r, 0, Number(step / S)) * S);
      checkMetricSplits(start, end, step, interval);
    }
  });
});

function intervalProblem(splits: Range[], start: bigint, end: bigint, interval: bigint): string | undefined {
  if (splits[0]!.startNs !== start) return "first piece does not start at start";
  if (splits.at(-1)!.endNs !== end) return "last piece does not end at end";
  for (let i = 0; i < splits.length; i++) {
    const r = splits[i]!;
    if (!(r.endNs > r.startNs)) return `piece ${i} is empty`;
    // half-open [start, end) inside one interval
    if (floorDiv(r.endNs - 1n, interval) !== floorDiv(r.startNs, interval)) return `piece ${i} crosses a boundary`;
    if (i > 0 && r.startNs !== splits[i - 1]!.endNs) return `gap or overlap before piece ${i}`;
    if (i > 0 && r.startNs % interval !== 0n) return `piece ${i} does not start on a boundary`;
  }
  // as few pieces as the grid allows
  if (BigInt(splits.length) !== floorDiv(end - 1n, interval) - floorDiv(start, interval) + 1n)
    return `${splits.length} pieces`;
  return undefined;
}

function checkIntervalSplits(start: bigint, end: bigint, interval: bigint): Range[] {
  const splits = intervalSplits(start, end, interval);
  const problem = intervalProblem(splits, start, end, interval);
  if (problem) expect.fail(`start=${start} end=${end} interval=${interval}: ${problem}`);
  return splits;
}

describe("intervalSplits", () => {
  it("reproduces the recorded day splits of the 2-day log query", () => {
    const full = fixture("log_2d_backward_full").request.params;
    const recorded = [0, 1, 2]
      .map((i) => fixture(`log_2d_backward_split_${i}`).request.params)
      .map((p) => ({ startNs: BigInt(p.start!), endNs: BigInt(p.end!) }));
    expect(intervalSplits(BigInt(full.start!), BigInt(full.end!), DAY)).toEqual(recorded);
    expect(recorded[1]).toEqual({ startNs: at("2026-11-21T00:00:00Z"), endNs: at("2026-11-22T00:00:00Z") });
  });

  it("does not add an empty piece when the end is on a boundary", () => {
    expect(intervalSplits(0n, 2n * HOUR, HOUR)).toEqual([
      { startNs: 0n, endNs: HOUR },
      { startNs: HOUR, endNs: 2n * HOUR },
    ]);
    expect(intervalSplits(HOUR - 1n, HOUR + 1n, HOUR)).toEqual([
      { startNs: HOUR - 1n, endNs: HOUR },
      { startNs: HOUR, endNs: HOUR + 1n },
    ]);
  });

  it("answers one range when splitting is off or the range is empty", () => {
    expect(intervalSplits(5n, 500n, 0n)).toEqual([{ startNs: 5n, endNs: 500n }]);
    expect(intervalSplits(5n, 5n, 10n)).toEqual([{ startNs: 5n, endNs: 5n }]);
    expect(intervalSplits(50n, 5n, 10n)).toEqual([{ startNs: 50n, endNs: 5n }]);
  });

  it("covers [start, end) contiguously, cut at interval multiples, over thousands of random ranges", () => {
    const r = rng(3);
    for (let i = 0; i < 4000; i++) {
      const interval = int(r, 1, 50);
      const start = int(r, -500, 500);
      checkIntervalSplits(start, start + int(r, 1, 600), interval);
    }
    for (let i = 0; i < 500; i++) {
      const start = at("2026-11-19T00:00:00Z") + int(r, 0, 1e9) * 1000n;
      checkIntervalSplits(start, start + int(r, 1, 7 * 86_400) * S + int(r, 0, 999), r() < 0.5 ? HOUR : DAY);
    }
  });
});
