import { compareBytes, compareLabels, labelsKey, type Labels } from "./labels.js";

// Merges of split responses. Each takes the parsed JSON bodies of successful sub-queries in
// chronological order and returns one body shaped like the unsplit query's answer.

type Sample = [number, string];
interface MatrixSeries {
  metric: Labels;
  values?: Sample[];
  histograms?: [number, unknown][];
}
interface Envelope<T> {
  status: string;
  data: T;
  warnings?: string[];
  infos?: string[];
}

/** Warnings and infos of all parts, each once, in first-seen order. */
function notes(bodies: Envelope<unknown>[], key: "warnings" | "infos"): string[] | undefined {
  const all = new Set(bodies.flatMap((b) => b[key] ?? []));
  return all.size ? [...all] : undefined;
}

function withNotes<T>(bodies: Envelope<unknown>[], data: T, extra: Record<string, unknown> = {}): Envelope<T> {
  const out: Envelope<T> = { status: "success", data, ...extra };
  const w = notes(bodies, "warnings");
  const i = notes(bodies, "infos");
  if (w) out.warnings = w;
  if (i) out.infos = i;
  return out;
}

/**
 * Concatenates samples per series; a timestamp seen twice (a split boundary) is kept once. Series sorted as Prometheus
 * sorts a matrix.
 */
function mergeSeriesSamples<T extends [number, unknown]>(
  target: T[] | undefined,
  add: T[] | undefined,
): T[] | undefined {
  if (!add?.length) return target;
  if (!target?.length) return [...add];
  const last = target[target.length - 1]![0];
  for (const s of add) if (s[0] > last) target.push(s);
  return target;
}

export function mergeMatrix(
  bodies: Envelope<{ resultType: string; result: MatrixSeries[]; stats?: unknown }>[],
  sortSeries = true,
): Envelope<unknown> {
  const byKey = new Map<string, MatrixSeries>();
  for (const b of bodies)
    for (const s of b.data.result) {
      const key = labelsKey(s.metric);
      const have = byKey.get(key);
      if (!have) {
        byKey.set(key, {
          metric: s.metric,
          ...(s.values ? { values: [...s.values] } : {}),
          ...(s.histograms ? { histograms: [...s.histograms] } : {}),
        });
        continue;
      }
      const values = mergeSeriesSamples(have.values, s.values);
      const histograms = mergeSeriesSamples(have.histograms, s.histograms);
      if (values) have.values = values;
      if (histograms) have.histograms = histograms;
    }
  const result = [...byKey.values()];
  if (sortSeries) result.sort((a, b) => compareLabels(a.metric, b.metric));
  const data: Record<string, unknown> = { resultType: "matrix", result };
  const stats = mergeLokiStats(bodies.map((b) => b.data.stats));
  if (stats) data.stats = stats;
  return withNotes(bodies, data);
}

type Entry = [string, string, ...unknown[]];
interface Stream {
  stream: Labels;
  values: Entry[];
}

/**
 * The strict merge of log splits: the `limit` entries nearest the query's start (forward) or end
 * (backward) over all streams, each stream's entries in direction order, streams ordered by their
 * first entry. Entries are compared by their nanosecond timestamps as integers.
 */
export function mergeStreams(
  bodies: Envelope<{ resultType: string; result: Stream[]; stats?: unknown; encodingFlags?: string[] }>[],
  limit: number,
  direction: "forward" | "backward",
): Envelope<unknown> {
  const all: { key: string; labels: Labels; entry: Entry; ts: bigint }[] = [];
  for (const b of bodies)
    for (const s of b.data.result) {
      const key = labelsKey(s.stream);
      for (const entry of s.values) all.push({ key, labels: s.stream, entry, ts: BigInt(entry[0]) });
    }
  const sign = direction === "forward" ? 1 : -1;
  all.sort((a, b) => (a.ts === b.ts ? compareBytes(a.key, b.key) : a.ts < b.ts ? -sign : sign));
  const streams = new Map<string, Stream>();
  const seen = new Set<string>();
  for (const e of all) {
    if (seen.size >= limit) break;
    // The same entry can arrive twice when splits share a boundary timestamp.
    const id = `${e.key}\0${e.entry[0]}\0${e.entry[1]}`;
    if (seen.has(id)) continue;
    seen.add(id);
    let s = streams.get(e.key);
    if (!s) streams.set(e.key, (s = { stream: e.labels, values: [] }));
    s.values.push(e.entry);
  }
  const data: Record<string, unknown> = { resultType: "streams", result: [...streams.values()] };
  const flags = new Set(bodies.flatMap((b) => b.data.encodingFlags ?? []));
  if (flags.size) data.encodingFlags = [...flags];
  const stats = mergeLokiStats(bodies.map((b) => b.data.stats));
  if (stats) data.stats = stats;
  return withNotes(bodies, data);
}

/** labels and label values: a sorted, de-duplicated union. */
export function mergeStrings(bodies: Envelope<string[] | null>[]): Envelope<string[]> {
  const all = new Set(bodies.flatMap((b) => b.data ?? []));
  return withNotes(bodies, [...all].sort(compareBytes));
}

/** series: a de-duplicated union of label sets, sorted by labels. */
export function mergeSeries(bodies: Envelope<Labels[] | null>[]): Envelope<Labels[]> {
  const byKey = new Map<string, Labels>();
  for (const b of bodies) for (const l of b.data ?? []) if (!byKey.has(labelsKey(l))) byKey.set(labelsKey(l), l);
  return withNotes(bodies, [...byKey.values()].sort(compareLabels));
}

/** Sums numbers and ORs booleans, recursively: Loki's stats blocks and index/stats bodies. */
export function sumNumbers(parts: unknown[]): unknown {
  const defined = parts.filter((p) => p !== undefined && p !== null);
  if (defined.length === 0) return undefined;
  const first = defined[0];
  if (typeof first === "number") return defined.reduce<number>((a, b) => a + (typeof b === "number" ? b : 0), 0);
  if (typeof first === "boolean") return defined.some((b) => b === true);
  if (typeof first === "object" && !Array.isArray(first)) {
    const keys = new Set(defined.flatMap((p) => (typeof p === "object" ? Object.keys(p as object) : [])));
    return Object.fromEntries(
      [...keys].map((k) => [k, sumNumbers(defined.map((p) => (p as Record<string, unknown>)[k]))]),
    );
  }
  return first;
}

interface Summary {
  execTime?: number;
  totalBytesProcessed?: number;
  totalLinesProcessed?: number;
  bytesProcessedPerSecond?: number;
  linesProcessedPerSecond?: number;
  splits?: number;
}

/** Loki's stats over splits: totals add up, rates are recomputed, and `splits` counts our splits. */
export function mergeLokiStats(parts: unknown[]): unknown {
  const merged = sumNumbers(parts) as { summary?: Summary } | undefined;
  if (!merged?.summary) return merged;
  const s = merged.summary;
  if (s.execTime && s.execTime > 0) {
    s.bytesProcessedPerSecond = Math.floor((s.totalBytesProcessed ?? 0) / s.execTime);
    s.linesProcessedPerSecond = Math.floor((s.totalLinesProcessed ?? 0) / s.execTime);
  }
  s.splits = parts.filter((p) => p !== undefined).length;
  return merged;
}

interface VectorSample {
  metric: Labels;
  value: [number, string];
}

/** index/volume: volumes of the same label set add up; largest first, then `limit`. */
export function mergeVolume(
  bodies: Envelope<{ resultType: string; result: VectorSample[]; stats?: unknown }>[],
  limit: number,
): Envelope<unknown> {
  const byKey = new Map<string, { metric: Labels; t: number; v: bigint }>();
  for (const b of bodies)
    for (const s of b.data.result) {
      const key = labelsKey(s.metric);
      const have = byKey.get(key);
      const v = BigInt(s.value[1]);
      if (have) {
        have.v += v;
        have.t = Math.max(have.t, s.value[0]);
      } else byKey.set(key, { metric: s.metric, t: s.value[0], v });
    }
  const result = [...byKey.values()]
    .sort((a, b) => (a.v === b.v ? compareLabels(a.metric, b.metric) : a.v > b.v ? -1 : 1))
    .slice(0, limit)
    .map((s) => ({ metric: s.metric, value: [s.t, s.v.toString()] }));
  const data: Record<string, unknown> = { resultType: "vector", result };
  const stats = mergeLokiStats(bodies.map((b) => b.data.stats));
  if (stats) data.stats = stats;
  return withNotes(bodies, data);
}
