// Where a query's time range is cut. All times in nanoseconds since the epoch.

export interface Range {
  startNs: bigint;
  endNs: bigint;
}

/**
 * Metric (range) queries, both ends inclusive, evaluated at start + k·step. Each split ends at the
 * last step timestamp before the next interval boundary, and the next starts one step later, so
 * every step timestamp is evaluated exactly once (no gap and no duplicate at a boundary). The last
 * split takes the query's end when one more step would reach it.
 */
export function metricSplits(startNs: bigint, endNs: bigint, stepNs: bigint, intervalNs: bigint): Range[] {
  if (intervalNs <= 0n || stepNs <= 0n) return [{ startNs, endNs }];
  const out: Range[] = [];
  for (let s = startNs; s <= endNs; ) {
    let e = lastStepBeforeBoundary(s, stepNs, intervalNs);
    if (e + stepNs >= endNs) e = endNs;
    out.push({ startNs: s, endNs: e });
    s = e + stepNs;
  }
  return out;
}

export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function lastStepBeforeBoundary(t: bigint, stepNs: bigint, intervalNs: bigint): bigint {
  const nextBoundary = (floorDiv(t, intervalNs) + 1n) * intervalNs;
  const steps = floorDiv(nextBoundary - t - 1n, stepNs);
  return t + steps * stepNs;
}

/** Log and metadata queries: [start, end) cut at interval boundaries (adjacent pieces share the boundary). */
export function intervalSplits(startNs: bigint, endNs: bigint, intervalNs: bigint): Range[] {
  if (intervalNs <= 0n || endNs <= startNs) return [{ startNs, endNs }];
  const out: Range[] = [];
  for (let s = startNs; s < endNs; ) {
    const boundary = (floorDiv(s, intervalNs) + 1n) * intervalNs;
    const e = boundary < endNs ? boundary : endNs;
    out.push({ startNs: s, endNs: e });
    s = e;
  }
  return out;
}
