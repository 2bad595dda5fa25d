// Merges shard answers into the unsharded answer, exactly: sample by sample for each label set and
// time, as the querier would have aggregated all series at once.
import { ApiError } from "../../http/errors.js";
import { compareLabels, type Labels, labelsKey } from "../api/labels.js";
import { mergeLokiStats, mergeStreams } from "../api/merge.js";
import type { Grouping, ShardMerge } from "./plan.js";

type Sample = [number, string];
interface Series {
  metric: Labels;
  values?: Sample[];
  histograms?: unknown[];
}
export interface Body {
  status: string;
  data: { resultType: string; result: unknown[]; stats?: unknown };
  warnings?: string[];
  infos?: string[];
}

/** The shards answered something this merge cannot combine exactly: ask the query whole instead. */
export class CannotMerge extends Error {}

export function parseValue(s: string): number {
  if (s === "+Inf" || s === "Inf") return Number.POSITIVE_INFINITY;
  if (s === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(s);
}

/** As Go's strconv.FormatFloat(v, 'f', -1, 64) and Prometheus' ±Inf / NaN: shortest digits, no exponent. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  const s = String(v);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, lead, rest = "", exp] = m;
  const digits = lead! + rest;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${"0".repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** One label set's samples over the answers' times, in columns indexed by time (a time's index in `Folded`). */
interface Column {
  metric: Labels;
  v: Float64Array;
  /** How many shards gave a sample at each time (0: none). */
  parts: Uint16Array;
  /** The text of the sample kept as it was written (one shard's, or the min/max one). */
  raw: (string | undefined)[];
}
interface Folded {
  times: number[];
  index: Map<number, number>;
  columns: Map<string, Column>;
}

type Fold = (c: Column, i: number, v: number, raw: string) => void;

const seriesOf = (bodies: Body[]): Series[] =>
  bodies.flatMap((b) => {
    if (b.data?.resultType !== "matrix") throw new CannotMerge(`an answer of type ${String(b.data?.resultType)}`);
    const result = b.data.result as Series[];
    if (result.some((s) => s.histograms?.length)) throw new CannotMerge("native histograms");
    return result;
  });

/**
 * Per label set and time: the samples of all shards, folded by `fold` (NaN handled as Prometheus does). Columns
 * of numbers, not an object per sample: a day at 1 m from 16 shards is a million samples.
 */
function fold(bodies: Body[], step: Fold): Folded {
  const series = seriesOf(bodies);
  const index = new Map<number, number>();
  const times: number[] = [];
  for (const s of series)
    for (const [t] of s.values ?? [])
      if (!index.has(t)) {
        index.set(t, times.length);
        times.push(t);
      }
  const columns = new Map<string, Column>();
  for (const s of series) {
    const key = labelsKey(s.metric);
    let c = columns.get(key);
    if (!c) {
      c = { metric: s.metric, v: new Float64Array(times.length), parts: new Uint16Array(times.length), raw: [] };
      columns.set(key, c);
    }
    for (const [t, raw] of s.values ?? []) {
      const i = index.get(t)!;
      if (c.parts[i]!++ === 0) {
        c.v[i] = parseValue(raw);
        c.raw[i] = raw;
      } else step(c, i, parseValue(raw), raw);
    }
  }
  return { times, index, columns };
}

const FOLDS: Record<"sum" | "min" | "max" | "group" | "concat", Fold> = {
  sum: (c, i, v) => {
    c.v[i]! += v;
    c.raw[i] = undefined; // no longer any shard's text
  },
  min: (c, i, v, raw) => {
    if (c.v[i]! > v || Number.isNaN(c.v[i]!)) [c.v[i], c.raw[i]] = [v, raw];
  },
  max: (c, i, v, raw) => {
    if (c.v[i]! < v || Number.isNaN(c.v[i]!)) [c.v[i], c.raw[i]] = [v, raw];
  },
  group: () => {},
  concat: () => {
    throw new ApiError("execution", "vector cannot contain metrics with the same labelset");
  },
};

/** The folded columns as a matrix: series by labels, samples by time; `value` writes a sample. */
function toMatrix(f: Folded, value: (c: Column, i: number, key: string) => string): Series[] {
  const order = f.times.map((_, i) => i).sort((a, b) => f.times[a]! - f.times[b]!);
  return [...f.columns.entries()]
    .map(([key, c]) => {
      const values: Sample[] = [];
      for (const i of order) if (c.parts[i]) values.push([f.times[i]!, value(c, i, key)]);
      return { metric: c.metric, values };
    })
    .sort((a, b) => compareLabels(a.metric, b.metric));
}

/** A sample's own text when one shard gave it (or min/max chose it), else the folded number. */
const own = (c: Column, i: number) => c.raw[i] ?? formatValue(c.v[i]!);

function groupKey(metric: Labels, g: Grouping): string {
  if (!g.without) return JSON.stringify(g.labels.map((l) => metric[l] ?? ""));
  const drop = new Set([...g.labels, "__name__"]);
  return labelsKey(Object.fromEntries(Object.entries(metric).filter(([k]) => !drop.has(k))));
}

/** topk/bottomk: per time and group, the k largest (smallest) of all shards' own picks; NaN loses. */
function top(bodies: Body[], k: number, bottom: boolean, g: Grouping): Series[] {
  const atTime = new Map<number, { key: string; metric: Labels; v: number; raw: string }[]>();
  for (const s of seriesOf(bodies)) {
    const key = labelsKey(s.metric);
    for (const [t, raw] of s.values ?? []) {
      let list = atTime.get(t);
      if (!list) atTime.set(t, (list = []));
      list.push({ key, metric: s.metric, v: parseValue(raw), raw });
    }
  }
  const better = (a: number, b: number) => {
    if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
    if (Number.isNaN(b)) return -1;
    return bottom ? a - b : b - a;
  };
  const out = new Map<string, Series>();
  for (const t of [...atTime.keys()].sort((a, b) => a - b)) {
    const groups = new Map<string, { key: string; metric: Labels; v: number; raw: string }[]>();
    for (const p of atTime.get(t)!) {
      const gk = groupKey(p.metric, g);
      const list = groups.get(gk);
      list ? list.push(p) : groups.set(gk, [p]);
    }
    for (const list of groups.values())
      for (const p of list.sort((a, b) => better(a.v, b.v)).slice(0, k)) {
        let s = out.get(p.key);
        if (!s) out.set(p.key, (s = { metric: p.metric, values: [] }));
        s.values!.push([t, p.raw]);
      }
  }
  return [...out.values()].sort((a, b) => compareLabels(a.metric, b.metric));
}

function envelope(bodies: Body[], data: Record<string, unknown>): Body {
  const out: Body = { status: "success", data: data as Body["data"] };
  const stats = mergeLokiStats(bodies.map((b) => b.data?.stats));
  if (stats) out.data.stats = stats;
  const warnings = new Set(bodies.flatMap((b) => b.warnings ?? []));
  const infos = new Set(bodies.flatMap((b) => b.infos ?? []));
  if (warnings.size) out.warnings = [...warnings];
  if (infos.size) out.infos = [...infos];
  return out;
}

/**
 * The unsharded answer from the shards' answers: `legs[i][s]` is leg i's answer from shard s.
 * Throws CannotMerge for answers it cannot combine exactly (native histograms, another result type).
 */
export function mergeShards(
  merge: ShardMerge,
  legs: Body[][],
  logs: { limit: number; direction: "forward" | "backward" } = { limit: 100, direction: "backward" },
): Body {
  const all = legs.flat();
  switch (merge.kind) {
    case "logs":
      if (all.some((b) => b.data?.resultType !== "streams")) throw new CannotMerge("a log answer that is not streams");
      return mergeStreams(all as never, logs.limit, logs.direction) as Body;
    case "combine":
      return envelope(all, {
        resultType: "matrix",
        result: toMatrix(fold(all, FOLDS[merge.op]), (c, i) => (merge.op === "group" ? "1" : own(c, i))),
      });
    case "concat":
      return envelope(all, { resultType: "matrix", result: toMatrix(fold(all, FOLDS.concat), own) });
    case "avg": {
      const sums = fold(legs[0]!, FOLDS.sum);
      const counts = fold(legs[1]!, FOLDS.sum);
      const value = (c: Column, i: number, key: string) => {
        const at = counts.index.get(sums.times[i]!);
        const n = at === undefined ? undefined : counts.columns.get(key);
        if (!n?.parts[at!]) throw new CannotMerge("a sum without its count");
        return formatValue(c.v[i]! / n.v[at!]!);
      };
      return envelope(all, { resultType: "matrix", result: toMatrix(sums, value) });
    }
    case "top":
      return envelope(all, { resultType: "matrix", result: top(all, merge.k, merge.bottom, merge.grouping) });
  }
}
