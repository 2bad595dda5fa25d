// How the status page writes numbers, durations and names: pure functions, unit-tested in Node.

/** The key under which series beyond the per-chart limit are summed (history.ts on the server). */
export const OTHERS = "\u0000others";
/** What a cell shows when there is no value. */
export const NONE = "\u2013";

// The reader's locale, as the browser has it.
const number = new Intl.NumberFormat();

/** A count, with thousands separators. */
export const count = (n: number): string => number.format(n);

/** "3 sub-queries", "1 tenant". */
export const plural = (n: number, one: string, many: string): string => `${count(n)} ${n === 1 ? one : many}`;

/** A share of a total as "12.5 %", or a dash when the total is 0. */
export const percent = (part: number, total: number): string =>
  total > 0 ? `${((100 * part) / total).toFixed(1)} %` : NONE;

/** A duration in the largest unit that keeps it short: "450 ms", "2.5 s", "3 min", "1.2 h". */
export function duration(ms: number): string {
  const a = Math.abs(ms);
  const one = (v: number) => v.toFixed(1).replace(/\.0$/, "");
  if (a < 1000) return `${Math.round(a)} ms`;
  if (a < 60_000) return `${one(a / 1000)} s`;
  return a < 3_600_000 ? `${one(a / 60_000)} min` : `${one(a / 3_600_000)} h`;
}

/** How long the process has been up: "2 d 3 h", "1 h 5 min", "4 min", "12 s". */
export function uptime(ms: number): string {
  const m = Math.floor(ms / 60_000);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (d) return `${d} d ${h % 24} h`;
  if (h) return `${h} h ${m % 60} min`;
  return m ? `${m} min` : `${Math.floor(ms / 1000)} s`;
}

/** How long ago an ISO time was, seen from the server's clock `now` (ms): "just now", "12 s ago", "3 min ago". */
export function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 2 ? "just now" : s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

/**
 * An actor path ("users|5f0c…", segments joined by "|") as the tables and legends print it: as in the logs,
 * so that a copied path greps.
 */
export const actorPath = (path: string): string => path;

/** A chart series' name in its legend: a tenant, an actor path, a status class... */
export const seriesLabel = (key: string): string =>
  key === OTHERS ? "others" : key === "" ? "(no actor path)" : actorPath(key);

/** The unit a chart's values are in. */
export type Unit = "slots" | "sub-queries" | "s" | "req/s" | "%";

/** A chart value (axis tick or legend) in its unit; null is a gap. */
export function chartValue(v: number | null | undefined, unit: Unit): string {
  if (v === null || v === undefined) return NONE;
  if (unit === "%") return `${v.toFixed(0)} %`;
  if (unit === "s") return v < 1 ? `${Math.round(v * 1000)} ms` : `${v.toFixed(1)} s`;
  return count(Math.abs(v) >= 10 ? Math.round(v) : Math.round(v * 100) / 100);
}
