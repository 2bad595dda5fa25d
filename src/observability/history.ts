/**
 * Bounded in-process history for the status page's charts: a ring of sample times and, per chart,
 * a bounded set of series over the same ring. Memory is fixed by (points × series): a series per
 * key up to `maxSeries`, the rest summed into one "others" series, and a key's series is reused for
 * a new key only once it has been zero for the whole window.
 */

export const OTHERS = "\u0000others"; // NUL never occurs in a tenant or actor name

/** Sample times: the ring's clock. Slot `seq % capacity` holds sample `seq`. */
export class SampleClock {
  readonly times: Float64Array;
  /** Samples taken so far; the latest is seq - 1. */
  seq = 0;

  constructor(readonly capacity: number) {
    this.times = new Float64Array(capacity);
  }

  advance(t: number): number {
    const slot = this.seq % this.capacity;
    this.times[slot] = t;
    this.seq++;
    return slot;
  }

  /** Sequence numbers of the samples after `after` still in the ring, oldest first. */
  since(after: number): number[] {
    const first = Math.max(after + 1, this.seq - this.capacity, 0);
    const out: number[] = [];
    for (let s = first; s < this.seq; s++) out.push(s);
    return out;
  }
}

interface Series {
  key: string;
  values: Float64Array; // NaN: no value (a gap in the chart)
  /** The last sample where it was not zero. */
  lastNonZero: number;
}

/** One chart's series: fixed keys, or the top keys of each sample with the rest summed. */
export class SeriesSet {
  readonly #series = new Map<string, Series>();

  constructor(
    readonly clock: SampleClock,
    readonly maxSeries = Infinity,
  ) {}

  /** Writes this sample's values; keys without a value get `missing` (0 for counts, NaN for gaps). */
  record(values: Map<string, number>, missing = 0): void {
    const seq = this.clock.seq - 1;
    const slot = seq % this.clock.capacity;
    const placed = new Map<Series, number>();
    let others = 0;
    let hasOthers = false;
    // Biggest first: when there is no room, the small ones go into "others".
    for (const [key, v] of [...values].sort((a, b) => b[1] - a[1])) {
      const s = this.#series.get(key) ?? this.#make(key, seq, missing);
      if (s) placed.set(s, v);
      else {
        others += v;
        hasOthers = true;
      }
    }
    if (hasOthers) placed.set(this.#series.get(OTHERS) ?? this.#make(OTHERS, seq, missing, true)!, others);
    for (const s of this.#series.values()) {
      const v = placed.get(s) ?? missing;
      s.values[slot] = v;
      if (v !== 0 && !Number.isNaN(v)) s.lastNonZero = seq;
    }
  }

  get size(): number {
    return this.#series.size;
  }

  /** The last sample where any series was not zero. */
  get lastNonZero(): number {
    let last = -1;
    for (const s of this.#series.values()) last = Math.max(last, s.lastNonZero);
    return last;
  }

  /** The series with a value in the given samples (all zero or empty ones left out). */
  read(seqs: number[]): { key: string; values: (number | null)[] }[] {
    const first = seqs[0];
    if (first === undefined) return [];
    const out: { key: string; values: (number | null)[] }[] = [];
    for (const s of this.#series.values()) {
      if (s.lastNonZero < first) continue;
      const values = seqs.map((q) => {
        const v = s.values[q % this.clock.capacity]!;
        return Number.isNaN(v) ? null : Math.round(v * 1000) / 1000;
      });
      out.push({ key: s.key, values });
    }
    return out;
  }

  #make(key: string, seq: number, missing: number, force = false): Series | undefined {
    if (!force && this.#series.size >= this.maxSeries - 1) {
      // Room is made only by a series that has been zero for the whole window.
      const stale = [...this.#series.values()].find(
        (s) => s.key !== OTHERS && s.lastNonZero <= seq - this.clock.capacity,
      );
      if (!stale) return undefined;
      this.#series.delete(stale.key);
    }
    const s: Series = { key, values: new Float64Array(this.clock.capacity), lastNonZero: -1 };
    // Before it appeared a key had nothing (zero, or a gap), whatever an earlier key left in the ring.
    s.values.fill(missing);
    this.#series.set(key, s);
    return s;
  }
}

/** Keyed groups of series (one per tenant), at most `maxGroups`, reusing a group idle for the whole window. */
export class SeriesGroups {
  readonly #groups = new Map<string, SeriesSet>();

  constructor(
    readonly clock: SampleClock,
    readonly maxGroups: number,
    readonly maxSeries: number,
  ) {}

  record(values: Map<string, Map<string, number>>): void {
    const seq = this.clock.seq - 1;
    let stale: string[] | undefined; // groups idle for the whole window, found once per sample
    for (const [group, v] of [...values].sort((a, b) => total(b[1]) - total(a[1]))) {
      let set = this.#groups.get(group);
      if (!set) {
        if (this.#groups.size >= this.maxGroups) {
          stale ??= [...this.#groups].filter(([, s]) => s.lastNonZero <= seq - this.clock.capacity).map(([k]) => k);
          const reused = stale.pop();
          if (reused === undefined) continue; // no room: this group gets no breakdown until one goes idle
          this.#groups.delete(reused);
        }
        this.#groups.set(group, (set = new SeriesSet(this.clock, this.maxSeries)));
      }
      set.record(v);
    }
    for (const [group, set] of this.#groups) if (!values.has(group)) set.record(new Map());
  }

  get(group: string): SeriesSet | undefined {
    return this.#groups.get(group);
  }

  get size(): number {
    return this.#groups.size;
  }
}

const total = (m: Map<string, number>) => {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
};
