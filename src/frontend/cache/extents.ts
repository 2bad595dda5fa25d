import { mergeMatrix } from "../api/merge.js";

// Extents: cached pieces of one metric query's answer, each the answer for [start, end] (both
// inclusive, on the query's step grid). Pure functions: what is covered, what is missing, how to cut.

export interface Extent {
  startNs: bigint;
  endNs: bigint;
  /** A successful matrix body, without per-execution stats. */
  response: MatrixBody;
}

export interface MatrixBody {
  status: string;
  data: {
    resultType: string;
    result: { metric: Record<string, string>; values?: [number, string][]; histograms?: [number, unknown][] }[];
    stats?: unknown;
  };
  warnings?: string[];
  infos?: string[];
}

export interface Gap {
  startNs: bigint;
  endNs: bigint;
}

/** The samples of a matrix within [startNs, endNs]; series left with none are dropped. */
export function sliceMatrix(body: MatrixBody, startNs: bigint, endNs: bigint): MatrixBody {
  // Matrix timestamps are float seconds with millisecond precision: compare whole milliseconds,
  // which doubles hold exactly (no BigInt per sample on the hot path).
  const fromMs = Number((startNs + 999_999n) / 1_000_000n);
  const toMs = Number(endNs / 1_000_000n);
  const keep = <T extends [number, unknown]>(xs?: T[]) =>
    xs?.filter((s) => {
      const ms = Math.round(s[0] * 1000);
      return ms >= fromMs && ms <= toMs;
    });
  const result = body.data.result
    .map((s) => {
      const values = keep(s.values);
      const histograms = keep(s.histograms);
      return { metric: s.metric, ...(values?.length ? { values } : {}), ...(histograms?.length ? { histograms } : {}) };
    })
    .filter((s) => s.values || s.histograms);
  const { stats: _drop, ...data } = body.data;
  return { ...body, data: { ...data, result } };
}

/** The parts of [startNs, endNs] (on the step grid from startNs) that no extent covers. */
export function gaps(startNs: bigint, endNs: bigint, stepNs: bigint, extents: Extent[]): Gap[] {
  const out: Gap[] = [];
  let next = startNs; // first grid point not yet covered
  for (const e of [...extents].sort((a, b) => (a.startNs < b.startNs ? -1 : 1))) {
    if (e.endNs < next || e.startNs > endNs) continue;
    if (e.startNs > next) out.push({ startNs: next, endNs: lastGridPointBefore(e.startNs, startNs, stepNs) });
    next = e.endNs + stepNs;
    if (next > endNs) return out;
  }
  if (next <= endNs) out.push({ startNs: next, endNs });
  return out;
}

function lastGridPointBefore(t: bigint, origin: bigint, stepNs: bigint): bigint {
  return origin + ((t - 1n - origin) / stepNs) * stepNs;
}

/** Extents that overlap or touch (one step apart) become one; the result is sorted. */
export function mergeExtents(extents: Extent[], stepNs: bigint): Extent[] {
  const sorted = [...extents].sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
  const out: Extent[] = [];
  for (const e of sorted) {
    const last = out[out.length - 1];
    if (last && e.startNs <= last.endNs + stepNs) {
      if (e.endNs > last.endNs) {
        last.response = mergeMatrix([
          last.response,
          sliceMatrix(e.response, last.endNs + stepNs, e.endNs),
        ] as never) as MatrixBody;
        last.endNs = e.endNs;
      }
    } else out.push({ ...e });
  }
  return out;
}
