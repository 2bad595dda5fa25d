import { ApiError } from "../../http/errors.js";
import { NS_PER_MS, type Params } from "../types.js";
import { goQuote, parseGoFloat } from "./go-syntax.js";
import { one } from "./params.js";
import { MAX_NS, rfc3339Ns } from "./time.js";

// How Prometheus (web/api/v1) reads times and durations, and its words when it refuses them: fairgate
// accepts exactly what Prometheus accepts and answers the rest as Prometheus would.

const NS = 1_000_000_000n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const int64 = (n: bigint) => BigInt.asIntN(64, n);
/** Go's time.Time counts int64 seconds from year 1; Inf and NaN make that count wrap around. */
const UNIX_TO_INTERNAL = 62_135_596_800n;

/** float64 to int64 as Go does on amd64: NaN and values out of range give the smallest int64. */
const goInt64 = (x: number): bigint =>
  Number.isNaN(x) || x >= 2 ** 63 || x < -(2 ** 63) ? INT64_MIN : BigInt(Math.trunc(x));
/** Go's math.Round: halves away from zero. */
const goRound = (x: number) => Math.sign(x) * Math.round(Math.abs(x));

/** Go's time.Unix(sec, nsec), as ns since 1970 (past int64 when Go's own arithmetic wraps). */
function goUnix(sec: bigint, nsec: bigint): bigint {
  if (nsec < 0n || nsec >= NS) {
    const n = nsec / NS;
    sec = int64(sec + n);
    nsec -= n * NS;
    if (nsec < 0n) {
      nsec += NS;
      sec = int64(sec - 1n);
    }
  }
  return (int64(sec + UNIX_TO_INTERNAL) - UNIX_TO_INTERNAL) * NS + nsec;
}

// The widest times Prometheus' own clients send for "no bound"; Go's parser reads 4-digit years only.
const MIN_TIME: [string, bigint] = ["-292273086-05-16T16:47:06Z", -9_223_309_901_257_974n * NS];
const MAX_TIME: [string, bigint] = ["292277025-08-18T07:12:54.999999999Z", 9_223_309_901_257_974n * NS + NS - 1n];
// time.RFC3339Nano as Go 1.19 reads it: T and Z upper-case, "." or "," before the fraction, any zone digits.
const GO_RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A time as Prometheus reads it (parseTime), in ns since 1970: Go float seconds, rounded to the
 * millisecond ("1e9", "+1795765680", "Inf": Go's conversions give Inf and NaN a time far away), or
 * RFC3339. Undefined where Prometheus refuses it.
 */
export function parsePromTime(s: string): bigint | undefined {
  const f = parseGoFloat(s);
  if (f !== undefined) {
    const whole = Math.trunc(f);
    const fraction = Number.isFinite(f) ? f - whole : Number.NaN;
    return goUnix(goInt64(whole), goInt64((goRound(fraction * 1000) / 1000) * 1e9));
  }
  if (s === MIN_TIME[0]) return MIN_TIME[1];
  if (s === MAX_TIME[0]) return MAX_TIME[1];
  return rfc3339Ns(s, GO_RFC3339, false);
}

// model.ParseDuration: whole numbers of each unit, in this order (y w d h m s ms).
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const UNIT_MS = [31_536_000_000n, 604_800_000n, 86_400_000n, 3_600_000n, 60_000n, 1000n, 1n];

/** A duration as Prometheus reads it (parseDuration): Go float seconds or "1h30m"-style, in ns. */
export function parsePromDuration(s: string): bigint | Error {
  const f = parseGoFloat(s);
  if (f !== undefined) {
    const ns = f * 1e9;
    if (ns > 2 ** 63 || ns < -(2 ** 63))
      return new Error(`cannot parse ${goQuote(s)} to a valid duration. It overflows int64`);
    return goInt64(ns);
  }
  const m = s === "" ? null : DURATION.exec(s);
  if (m) {
    const ns = m.slice(1).reduce((sum, n, i) => sum + BigInt(n ?? 0) * UNIT_MS[i]! * NS_PER_MS, 0n);
    if (ns <= INT64_MAX) return ns;
  }
  return new Error(`cannot parse ${goQuote(s)} to a valid duration`);
}

export const invalidParameter = (name: string, message: string) =>
  new ApiError("bad_data", `invalid parameter ${goQuote(name)}: ${message}`);
const cannotParseTime = (s: string) => `cannot parse ${goQuote(s)} to a valid timestamp`;

/** A time Prometheus requires (query_range's start and end): a missing one is "", which it cannot parse. */
export function timeParam(params: Params, name: string): bigint {
  const raw = one(params, name) ?? "";
  const ns = parsePromTime(raw);
  if (ns === undefined) throw invalidParameter(name, cannotParseTime(raw));
  return ns;
}

/** An optional time (an instant query's time, metadata's start and end): undefined when absent or empty. */
export function optionalTimeParam(params: Params, name: string): bigint | undefined {
  const raw = one(params, name);
  if (!raw) return undefined;
  const ns = parsePromTime(raw);
  if (ns === undefined) throw invalidParameter(name, `Invalid time value for '${name}': ${cannotParseTime(raw)}`);
  return ns;
}

export function durationParam(params: Params, name: string): bigint {
  const d = parsePromDuration(one(params, name) ?? "");
  if (d instanceof Error) throw invalidParameter(name, d.message);
  return d;
}

/** Prometheus checks `timeout` (when given) before it parses the query. */
export function checkTimeout(params: Params): void {
  if (one(params, "timeout")) durationParam(params, "timeout");
}

export function checkStep(stepNs: bigint): void {
  if (stepNs <= 0n)
    throw invalidParameter(
      "step",
      "zero or negative query resolution step widths are not accepted. Try a positive integer",
    );
}

/** end − start as Go's Time.Sub: saturated to int64 ns. */
export const goSub = (endNs: bigint, startNs: bigint): bigint => {
  const d = endNs - startNs;
  return d > INT64_MAX ? INT64_MAX : d < INT64_MIN ? INT64_MIN : d;
};

export const endBeforeStart = () => invalidParameter("end", "end timestamp must not be before start time");

/** What Prometheus says of a missing or empty query: its parser finds nothing at line 1, column 1. */
export const NO_EXPRESSION = "1:1: parse error: no expression found in input";

/** Times fairgate splits and caches: int64 ns. Others go to the querier as they are, for it to answer. */
export const inWindow = (ns: bigint): boolean => ns >= -MAX_NS && ns <= MAX_NS;

/** The millisecond Prometheus evaluates at (it drops the rest of a time, as timestamp.FromTime does). */
export const floorMs = (ns: bigint): bigint => ns - (((ns % NS_PER_MS) + NS_PER_MS) % NS_PER_MS);
