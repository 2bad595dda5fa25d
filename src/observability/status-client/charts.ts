import { OTHERS, type Unit } from "./format.js";
import { ordered, type Samples, type Values } from "./samples.js";

/** The charts, by the id their element has on the page (chart-<id>). */
export const CHARTS = {
  busy: { unit: "slots", stacked: true },
  queue: { unit: "sub-queries", stacked: true },
  wait: { unit: "s", stacked: false },
  requests: { unit: "req/s", stacked: true },
  cache: { unit: "%", stacked: false, max: 100 },
} satisfies Record<string, ChartSpec>;

export type ChartId = keyof typeof CHARTS;
export const CHART_IDS = Object.keys(CHARTS) as ChartId[];

export interface ChartSpec {
  unit: Unit;
  /** Stacked areas (shares of a whole), or lines. */
  stacked: boolean;
  /** A fixed top of the y axis (else it follows the data). */
  max?: number;
}

/** What a chart draws: its series biggest first, and a dashed reference line (capacity, held back) if any. */
export interface ChartSeries {
  series: [string, Values][];
  line?: Values;
  lineLabel?: string;
}

/** The series a chart draws, from the samples: the busy chart by tenant, or by actor within the chosen tenant. */
export function chartSeries(samples: Samples, id: ChartId): ChartSeries {
  const s = samples.series;
  switch (id) {
    case "busy":
      return {
        series: ordered(samples.tenant === "" ? s.busy : s.actors),
        line: s.slots.get("capacity"),
        lineLabel: "querier slots (healthy)",
      };
    case "queue":
      return { series: ordered(s.queue), line: s.held.get("held back"), lineLabel: "held back in their queries" };
    default:
      return { series: ordered(s[id]) };
  }
}

/**
 * Stacked areas: each series drawn as the sum of itself and those before it, topmost (the last) first,
 * so every filled band is one key's share. Gaps count as 0.
 */
export function stack(raw: Values[], length: number): number[][] {
  const acc = new Array<number>(length).fill(0);
  return raw.map((vs) => vs.map((v, i) => (acc[i] = (acc[i] ?? 0) + (v ?? 0)))).reverse();
}

/** Values that are neither gaps nor 0: what the chart has to show (the page says so in data-points). */
export const pointCount = (raw: Values[]): number =>
  raw.reduce((n, vs) => n + vs.filter((v) => v !== null && v !== 0).length, 0);

/** The sample the legend shows: the one under the cursor, else the latest with a value (-1: none). */
export function shownIndex(cursor: number | null | undefined, values: Values): number {
  if (cursor !== null && cursor !== undefined) return cursor;
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return i;
  return -1;
}

const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#76b7b2",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#86bcb6",
  "#d37295",
  "#8cd17d",
];
const FIXED: Partial<Record<ChartId, Record<string, string>>> = {
  requests: { "2xx": "#59a14f", "3xx": "#4e79a7", "4xx": "#f28e2b", "5xx": "#e15759" },
  wait: { p50: "#4e79a7", p99: "#e15759", "oldest waiting": "#edc948" },
};

/** A series' colour: fixed for status classes and wait percentiles, grey for "others", else by rank. */
export function colorOf(id: ChartId, key: string, rank: number): string {
  const fixed = FIXED[id]?.[key];
  if (fixed) return fixed;
  return key === OTHERS && id !== "requests" ? "#9aa0aa" : PALETTE[rank % PALETTE.length]!;
}
