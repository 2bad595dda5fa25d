import { parseDurationMs } from "../../config/duration.js";
import { NS_PER_MS } from "../types.js";

// Loki's reading; Prometheus' Go reads upper-case T and Z only, takes "," before the fraction too, and any
// two-digit zone offset (prometheus-params.ts).
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;
export const MAX_NS = 9_223_372_036_854_775_807n;

export function rfc3339Ns(s: string, pattern = RFC3339, zoneInRange = true): bigint | undefined {
  const m = pattern.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac = "", zone] = m;
  // Go's time.Parse (and so Loki and Prometheus) refuses fields out of range; Date.UTC would roll them over.
  const daysInMonth = new Date(Date.UTC(2000, +mo!, 0)).getUTCDate() - (+mo! === 2 && !isLeap(+y!) ? 1 : 0);
  if (+mo! < 1 || +mo! > 12 || +d! < 1 || +d! > daysInMonth || +h! > 23 || +mi! > 59 || +sec! > 59) return undefined;
  const utc = zone === "Z" || zone === "z";
  if (zoneInRange && !utc && (+zone!.slice(1, 3) > 23 || +zone!.slice(4, 6) > 59)) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(+y!, +mo! - 1, +d!); // unlike Date.UTC, keeps years 0–99 as they are
  date.setUTCHours(+h!, +mi!, +sec!, 0);
  let ms = date.getTime();
  if (!utc) {
    const sign = zone!.startsWith("-") ? -1 : 1;
    ms -= sign * (+zone!.slice(1, 3) * 60 + +zone!.slice(4, 6)) * 60_000;
  }
  return BigInt(ms) * NS_PER_MS + BigInt(frac.padEnd(9, "0"));
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Seconds with an optional fraction ("1700000000.123") to ns, exactly (no float rounding). */
function decimalSecondsNs(s: string): bigint | undefined {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(s);
  if (!m) return undefined;
  const ns = BigInt(m[2]!) * 1_000_000_000n + BigInt((m[3] ?? "").slice(0, 9).padEnd(9, "0"));
  return m[1] ? -ns : ns;
}

const inRange = (ns: bigint | undefined) => (ns !== undefined && ns <= MAX_NS && ns >= -MAX_NS ? ns : undefined);

/** Loki: integers of up to 10 digits are seconds, longer ones nanoseconds; also fractional seconds and RFC3339. */
export function parseLokiTime(s: string): bigint | undefined {
  const t = s.trim();
  if (/^-?\d+$/.test(t)) return inRange(t.replace("-", "").length <= 10 ? BigInt(t) * 1_000_000_000n : BigInt(t));
  return inRange(decimalSecondsNs(t) ?? rfc3339Ns(t));
}

/** Float seconds ("15", "0.5") or a duration ("1m", "60000ms"), to ms. */
export function parseStepMs(s: string): number | undefined {
  const t = s.trim();
  const ms = /^\d+(?:\.\d+)?$/.test(t) ? Number(t) * 1000 : parseDurationMs(t);
  return ms !== undefined && Number.isFinite(ms) ? ms : undefined;
}

/** ns to the decimal seconds Prometheus reads back exactly ("1700000000", "1700000000.5"). */
export function formatSeconds(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const sec = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${sec}${frac ? `.${frac}` : ""}`;
}

/** Milliseconds (possibly fractional: a step of 1.5ms is valid) to ns. */
export const msToNs = (ms: number): bigint => BigInt(Math.round(ms * 1_000_000));
export const nsToMs = (ns: bigint): number => Number(ns / NS_PER_MS);
