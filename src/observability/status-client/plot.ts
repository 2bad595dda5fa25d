import type UPlot from "uplot";
import { CHARTS, type ChartId, type ChartSpec, chartSeries, colorOf, pointCount, shownIndex, stack } from "./charts.js";
import { byId } from "./dom.js";
import { chartValue, seriesLabel } from "./format.js";
import type { Samples, Values } from "./samples.js";

/** The chart library, loaded by its own <script> (/status/assets/uplot.js) before this one. */
declare const uPlot: typeof UPlot;

const HEIGHT = 200;
const css = () => getComputedStyle(document.documentElement);
const color = (name: string) => css().getPropertyValue(name).trim();

/** A drawn chart, and what it was drawn for: other keys or another reference line need a new one. */
interface Plot {
  u: UPlot;
  signature: string;
}
const plots = new Map<ChartId, Plot>();

/** Forgets every chart (a new breakdown starts them afresh). */
export function destroyCharts(): void {
  for (const p of plots.values()) p.u.destroy();
  plots.clear();
}

export function drawCharts(samples: Samples): void {
  for (const id of Object.keys(CHARTS) as ChartId[]) drawChart(samples, id);
}

function drawChart(samples: Samples, id: ChartId): void {
  const spec: ChartSpec = CHARTS[id];
  const box = byId(`chart-${id}`);
  const { series, line, lineLabel } = chartSeries(samples, id);
  const times = samples.times;
  const keys = series.map(([k]) => k);
  const raw = series.map(([, v]) => v);
  // Stacked: the topmost band first (see stack()); the legend still shows each key's own value.
  const drawn: Values[] = spec.stacked ? stack(raw, times.length) : raw;
  const order = spec.stacked ? keys.slice().reverse() : keys;
  const rawOrder = spec.stacked ? raw.slice().reverse() : raw;
  const data: UPlot.AlignedData = [times, ...drawn, ...(line ? [line] : [])];
  const points = pointCount(raw);
  box.dataset.points = String(points);
  box.dataset.series = String(series.length);
  byId(`chart-${id}-empty`).hidden = points > 0;

  const signature = `${id}|${order.join("\u0001")}|${line ? 1 : 0}`;
  let plot = plots.get(id);
  if (plot && plot.signature !== signature) {
    plot.u.destroy();
    plot = undefined;
  }
  const width = Math.max(240, box.clientWidth);
  if (plot) {
    plot.u.setData(data);
    if (plot.u.width !== width) plot.u.setSize({ width, height: HEIGHT });
    return;
  }
  // The legend reads the values from these arrays, which merge() keeps current in place.
  const legendValue = (values: Values) => (_u: UPlot, _v: number, _si: number, idx: number | null) =>
    chartValue(values[shownIndex(idx, values)], spec.unit);
  const fg = color("--muted");
  const grid = color("--line");
  const s: UPlot.Series[] = [{}];
  order.forEach((key, i) => {
    const c = colorOf(id, key, keys.indexOf(key));
    s.push({
      label: seriesLabel(key),
      stroke: c,
      width: 1.5,
      fill: spec.stacked ? `${c}cc` : undefined,
      spanGaps: false,
      // Sparse series (a wait or a hit ratio only when something happened) need dots to be seen.
      points: spec.stacked ? { show: false } : { show: true, size: 5 },
      value: legendValue(rawOrder[i]!),
    });
  });
  if (line)
    s.push({
      label: lineLabel,
      stroke: fg,
      width: 1.5,
      dash: [6, 4],
      points: { show: false },
      value: legendValue(line),
    });
  const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const floor = id === "wait" ? 0.01 : 1;
  const opts: UPlot.Options = {
    width,
    height: HEIGHT,
    series: s,
    scales: {
      // At least a minute wide: a chart of a few seconds would label ticks in milliseconds.
      x: { time: true, range: (_u, min, max) => [Math.min(min, max - 60), max] },
      y: { range: spec.max ? [0, spec.max] : (_u, _min, max) => [0, Math.max(max * 1.1, floor)] },
    },
    axes: [axis, { size: 56, values: (_u, ticks) => ticks.map((v) => chartValue(v, spec.unit)), ...axis }],
    legend: { live: true },
    cursor: { points: { show: false } },
  };
  const u = new uPlot(opts, data, box);
  u.root.setAttribute("aria-hidden", "true");
  plots.set(id, { u, signature });
}
