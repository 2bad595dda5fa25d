import type { HistoryData, HistorySource } from "../status-history.js";
import { OTHERS } from "./format.js";

/** One series' values, one per sample time; null is a gap. */
export type Values = (number | null)[];
/** A group's series by key (tenant, actor path, status class...). */
export type Series = Map<string, Values>;

/**
 * A group's value for a sample it has no entry in: 0 for counts and rates (nothing happened), null
 * (a gap) for measurements, which exist only when something was measured.
 */
export const MISSING: Record<HistorySource, 0 | null> = {
  busy: 0,
  actors: 0,
  slots: 0,
  held: 0,
  queue: 0,
  wait: null,
  requests: 0,
  cache: null,
};
const SOURCES = Object.keys(MISSING) as HistorySource[];

const emptySeries = () => Object.fromEntries(SOURCES.map((s) => [s, new Map()])) as Record<HistorySource, Series>;

/**
 * The samples the page has: /debug/history is polled with the last sequence number seen, and each
 * answer's new samples are appended here, aligned by time, and bounded to the server's window.
 */
export class Samples {
  /** The last sample's sequence number (-1: none yet). */
  seq = -1;
  /** Sample times (s since the epoch). */
  times: number[] = [];
  series = emptySeries();
  /** Whose actors the busy chart breaks down ("": tenants). */
  tenant = "";
  /** Bumped when the breakdown changes, so that an answer to an older request is dropped. */
  generation = 0;

  /** Forgets everything (a new breakdown asks for the whole window again). */
  reset(): void {
    this.generation++;
    this.seq = -1;
    this.times = [];
    this.series = emptySeries();
  }

  /** Appends the samples in `h`; keeps at most a window's worth, and drops series with nothing left in it. */
  merge(h: HistoryData): void {
    const n = h.times.length;
    if (!n) return;
    const old = this.times.length;
    for (const source of SOURCES) {
      const known = this.series[source];
      const fresh = new Set<string>();
      for (const s of h.charts[source]) {
        fresh.add(s.key);
        let values = known.get(s.key);
        if (!values) known.set(s.key, (values = new Array<number | null>(old).fill(MISSING[source])));
        values.push(...s.values);
      }
      for (const [key, values] of known) if (!fresh.has(key)) for (let i = 0; i < n; i++) values.push(MISSING[source]);
    }
    this.times.push(...h.times);
    this.seq = h.seq;
    const drop = this.times.length - Math.ceil(h.windowMs / h.intervalMs);
    if (drop > 0) {
      this.times.splice(0, drop);
      for (const source of SOURCES) for (const values of this.series[source].values()) values.splice(0, drop);
    }
    for (const source of SOURCES)
      for (const [key, values] of this.series[source])
        if (!values.some((v) => v !== null && v !== 0)) this.series[source].delete(key);
  }

  /** The latest value of a series (0 when it has none). */
  last(source: HistorySource, key: string): number {
    const v = this.series[source].get(key);
    return v?.length ? (v[v.length - 1] ?? 0) : 0;
  }

  /** The mean of a series' last `n` samples (0 when it has none): one second alone is too jumpy to read. */
  recent(source: HistorySource, key: string, n = 10): number {
    const tail = (this.series[source].get(key) ?? []).slice(-n);
    return tail.length ? tail.reduce<number>((sum, x) => sum + (x ?? 0), 0) / tail.length : 0;
  }
}

/** A group's series, biggest first (by their sum over the window), "others" last. */
export function ordered(series: Series): [string, Values][] {
  const sum = (vs: Values) => vs.reduce<number>((n, v) => n + (v ?? 0), 0);
  return [...series].sort((a, b) => Number(a[0] === OTHERS) - Number(b[0] === OTHERS) || sum(b[1]) - sum(a[1]));
}
