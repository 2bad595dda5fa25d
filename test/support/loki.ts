import { accessSync, constants } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { rng } from "./rng.js";
import { freePort, startSupervised, type ExitStatus } from "./supervised.js";

/**
 * A real Grafana Loki (the single binary, every target in one process) for tests and benchmarks,
 * supervised so that nothing outlives the test, with generated history pushed into it.
 *
 * The binary is found through LOKI_BIN or at ../shared/loki/loki-3.4.6-linux-amd64 from the
 * repository's root. Without it, lokiOrSkip() says so and the suite is skipped; in CI (CI=true) a
 * missing binary is an error, since CI always has it.
 */

const DEFAULT_BIN = fileURLToPath(new URL("../../../shared/loki/loki-3.4.6-linux-amd64", import.meta.url));

/** The Loki binary to run, if there is one (LOKI_BIN first). */
export function findLoki(): string | undefined {
  const bin = process.env.LOKI_BIN || DEFAULT_BIN;
  try {
    accessSync(bin, constants.X_OK);
    return bin;
  } catch {
    return undefined;
  }
}

/**
 * The Loki binary, or undefined after a plain warning that `suite` is skipped and how to run it.
 * Throws when CI=true: CI always has the binary, so its absence there is a failure, not a skip.
 */
export function lokiOrSkip(suite: string): string | undefined {
  const bin = findLoki();
  if (bin) return bin;
  const where = process.env.LOKI_BIN ? `LOKI_BIN=${process.env.LOKI_BIN} is not executable` : `no ${DEFAULT_BIN}`;
  // The test file that asked, read off the call stack, so the message names what to run.
  const file = /(test\/[\w/.-]+\.test\.ts)/.exec(new Error().stack ?? "")?.[1] ?? "";
  const how =
    "get loki-linux-amd64.zip from https://github.com/grafana/loki/releases/tag/v3.4.6, unzip it, then " +
    `run LOKI_BIN=/path/to/loki-linux-amd64 npx vitest run ${file}`;
  if (process.env.CI === "true") throw new Error(`${suite}: needs a real Loki, and CI must have it (${where}); ${how}`);
  console.warn(`SKIPPED ${suite}: no real Loki (${where}); ${how}`);
  return undefined;
}

export interface TestLoki {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Everything Loki printed so far. */
  logs(): string;
  /** Stops Loki and removes its scratch directory; safe to call twice. */
  close(): Promise<void>;
  /** How long Loki took to answer /ready. */
  readyMs: number;
  /** False once Loki has exited, stopped by close() or not. */
  alive(): boolean;
}

export interface StartLokiOptions {
  /** The binary (default: findLoki()). */
  bin?: string;
  /** Sub-queries Loki runs at once (querier.max_concurrent; Loki's default 4). */
  maxConcurrent?: number;
  /** How long to wait for /ready (default 90 s). */
  timeoutMs?: number;
  /** Loki's own results cache, in memory (default off, so that a comparison sees what Loki computes). */
  resultsCache?: boolean;
  /** server.log_level (default warn); info logs a line per query and sub-query, with its duration. */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Runs the pattern ingester, which /loki/api/v1/patterns asks (default off, as in Loki). */
  patterns?: boolean;
}

/**
 * Multi-tenant, everything on the local filesystem under `dir`, an in-memory ring, Loki's own results
 * cache off unless asked for, history of any age accepted, and no reporting anywhere.
 */
function lokiConfig(dir: string, httpPort: number, grpcPort: number, opts: StartLokiOptions): string {
  const cache = opts.resultsCache
    ? `cache_results: true
  results_cache:
    cache:
      embedded_cache:
        enabled: true
        max_size_mb: 256`
    : "cache_results: false";
  return `auth_enabled: true
server:
  http_listen_address: 127.0.0.1
  http_listen_port: ${httpPort}
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: ${grpcPort}
  log_level: ${opts.logLevel ?? "warn"}
common:
  instance_addr: 127.0.0.1
  path_prefix: ${dir}
  replication_factor: 1
  ring:
    kvstore:
      store: inmemory
  storage:
    filesystem:
      chunks_directory: ${dir}/chunks
      rules_directory: ${dir}/rules
schema_config:
  configs:
    - from: "2020-01-01"
      store: tsdb
      object_store: filesystem
      schema: v13
      index:
        prefix: index_
        period: 24h
ingester:
  max_chunk_age: 2160h
limits_config:
  reject_old_samples: false
  ingestion_rate_mb: 1024
  ingestion_burst_size_mb: 1024
  per_stream_rate_limit: 512MB
  per_stream_rate_limit_burst: 1024MB
  max_query_series: 100000
  volume_enabled: true
query_range:
  ${cache}
querier:
  max_concurrent: ${opts.maxConcurrent ?? 4}
pattern_ingester:
  enabled: ${opts.patterns ?? false}
analytics:
  reporting_enabled: false
`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startLoki(opts: StartLokiOptions = {}): Promise<TestLoki> {
  const bin = opts.bin ?? findLoki();
  if (!bin) throw new Error("startLoki: no Loki binary (set LOKI_BIN)");
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  const t0 = Date.now();
  for (let attempt = 1; ; attempt++) {
    const scratch = await mkdtemp(join(tmpdir(), "fairgate-loki-"));
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    const configFile = join(scratch, "loki.yaml");
    await writeFile(configFile, lokiConfig(scratch, httpPort, grpcPort, opts));
    const proc = startSupervised({ command: bin, args: [`-config.file=${configFile}`], scratch, onChildExit: "exit" });
    let exited: ExitStatus | undefined;
    void proc.exited.then((s) => (exited = s));
    const url = `http://127.0.0.1:${httpPort}`;
    let closing: Promise<void> | undefined;
    const close = () => (closing ??= proc.close());
    while (!exited && Date.now() < deadline) {
      try {
        const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2000) });
        const text = await res.text();
        if (res.status === 200 && text.trim() === "ready") {
          // Every later failure of the suite would only say "connection refused": say why Loki is gone.
          void proc.exited.then((s) => {
            if (!closing)
              console.error(
                `loki at ${url} exited before the test stopped it (${s.signal ?? `code ${s.code}`}); ` +
                  `its last output:\n${proc.output().slice(-4000)}`,
              );
          });
          return { url, logs: proc.output, close, readyMs: Date.now() - t0, alive: () => !exited };
        }
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    await close();
    const log = proc.output();
    // A port taken between freePort() and Loki's bind: try other ports.
    if (exited && /address already in use/.test(log) && attempt < 5) continue;
    throw new Error(
      `loki ${exited ? `exited (${exited.signal ?? exited.code})` : "not ready in time"}\n` +
        `--- loki log ---\n${log.slice(-4000)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

export interface LogEntry {
  /** Stream labels. */
  stream: Record<string, string>;
  /** Nanoseconds since the epoch. */
  tsNs: bigint;
  line: string;
}

export interface History {
  tenants: string[];
  apps: string[];
  levels: string[];
  paths: string[];
  /** Nanoseconds: the first and the last entry over all tenants. */
  startNs: bigint;
  endNs: bigint;
  /** Every entry pushed, per tenant, oldest first: the truth to check answers against. */
  entries: Record<string, LogEntry[]>;
}

export interface HistoryOptions {
  tenants?: string[];
  days?: number;
  /** Last entry's time, ms since the epoch (default: now). */
  endMs?: number;
  /** Mean seconds between two entries of one stream (default 120). */
  meanGapSeconds?: number;
  seed?: number;
}

export const HISTORY = {
  tenants: ["tenant-a", "tenant-b"],
  /** cron is sparse: an entry or two an hour per stream, so counts over short ranges are small. */
  apps: ["api", "web", "worker", "cron"],
  levels: ["info", "warn", "error"],
  paths: ["/", "/login", "/api/orders", "/api/users", "/health"],
} as const;

/**
 * Generates `days` of logfmt lines ending at `endMs` for each tenant: one stream per app, level and
 * env (env differs per tenant, so the tenants' answers differ; app cron is sparse), lines like
 * `level=warn method=GET path=/api/orders status=404 duration=0.123 msg="..."`, at seeded random
 * gaps (warn and error streams are sparser). Timestamps are whole milliseconds plus a few
 * nanoseconds, unique within a tenant, so ordering is well-defined.
 */
export function generateHistory(opts: HistoryOptions = {}): History {
  const tenants = opts.tenants ?? [...HISTORY.tenants];
  const endNs = BigInt(Math.floor(opts.endMs ?? Date.now())) * 1_000_000n;
  const spanNs = BigInt(Math.round((opts.days ?? 7) * 86_400_000)) * 1_000_000n;
  const meanGap = opts.meanGapSeconds ?? 120;
  const random = rng(opts.seed ?? 10);
  const entries: Record<string, LogEntry[]> = {};
  let first = endNs;
  for (const [t, tenant] of tenants.entries()) {
    const out: LogEntry[] = [];
    const seen = new Set<bigint>();
    for (const app of HISTORY.apps)
      for (const [l, level] of HISTORY.levels.entries()) {
        const stream = { app, level, env: t === 0 ? "prod" : "staging" };
        const gapNs = BigInt(Math.round(meanGap * (1 + 2 * l) * (app === "cron" ? 15 : 1) * 1e9));
        // Walk backwards from the end, so that every stream reaches "now".
        for (let ts = endNs - BigInt(Math.floor(random() * Number(gapNs))); ts > endNs - spanNs; ) {
          let unique = ts - (ts % 1_000_000n) + BigInt(1 + t * 100 + l * 10 + HISTORY.apps.indexOf(app));
          while (seen.has(unique)) unique -= 1_000_000n;
          seen.add(unique);
          out.push({ stream, tsNs: unique, line: logLine(random, level) });
          if (unique < first) first = unique;
          ts -= BigInt(Math.floor((0.2 + 1.6 * random()) * Number(gapNs)));
        }
      }
    out.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
    entries[tenant] = out;
  }
  return {
    tenants,
    apps: [...HISTORY.apps],
    levels: [...HISTORY.levels],
    paths: [...HISTORY.paths],
    startNs: first,
    endNs,
    entries,
  };
}

function logLine(random: () => number, level: string): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const status =
    level === "error" ? pick([500, 502, 503]) : level === "warn" ? pick([404, 429, 400]) : pick([200, 200, 201, 204]);
  const duration = (random() * random() * 2).toFixed(3);
  const method = pick(["GET", "GET", "POST", "DELETE"]);
  const msg = level === "error" ? "upstream failed" : level === "warn" ? "client error" : "request served";
  return (
    `level=${level} method=${method} path=${pick(HISTORY.paths)} status=${status} ` +
    `duration=${duration} msg="${msg}"`
  );
}

/** Pushes a history into Loki, a day of one stream per request, several requests at once. */
export async function pushHistory(loki: Pick<TestLoki, "url">, history: History): Promise<void> {
  const batches: { tenant: string; body: string }[] = [];
  const DAY_NS = 86_400_000_000_000n;
  for (const tenant of history.tenants) {
    const byKey = new Map<string, { stream: Record<string, string>; values: [string, string][] }>();
    for (const e of history.entries[tenant]!) {
      const key = `${JSON.stringify(e.stream)}:${e.tsNs / DAY_NS}`;
      let b = byKey.get(key);
      if (!b) byKey.set(key, (b = { stream: e.stream, values: [] }));
      b.values.push([e.tsNs.toString(), e.line]);
    }
    for (const b of byKey.values()) batches.push({ tenant, body: JSON.stringify({ streams: [b] }) });
  }
  await pushBatches(loki, batches);
}

/** Pushes bodies of POST /loki/api/v1/push, each for its tenant, four requests at a time. */
export async function pushBatches(loki: Pick<TestLoki, "url">, batches: { tenant: string; body: string }[]) {
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const b = batches[next++]!;
      const res = await fetch(`${loki.url}/loki/api/v1/push`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-scope-orgid": b.tenant },
        body: b.body,
      });
      if (res.status !== 204) throw new Error(`loki push for ${b.tenant}: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

// ---------------------------------------------------------------------------------------------
// What the queriers did (logLevel: "info")
// ---------------------------------------------------------------------------------------------

/** A sub-query at a Loki querier: when it started or ended, its LogQL, and (at the end) its duration. */
export interface SubQuery {
  event: "start" | "end";
  /** Milliseconds since the epoch, from the log line's ts. */
  atMs: number;
  query: string;
  /** At the end: how long the querier spent on it. */
  ms?: number;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, µs: 1e-3, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration (1m2.5s, 12.3ms, 850µs) in milliseconds. */
export function goDurationMs(d: string): number {
  let ms = 0;
  for (const m of d.matchAll(/([\d.]+)(ns|µs|us|ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}

/**
 * The querier's own lines, in log order: `executing query` when a sub-query starts (engine.go) and
 * the statistics line when it ends (metrics.go, with its duration). Frontend lines are left out.
 */
export function querierSubQueries(log: string): SubQuery[] {
  const out: SubQuery[] = [];
  for (const line of log.split("\n")) {
    if (!line.includes("component=querier")) continue;
    const start = line.includes('msg="executing query"');
    if (!start && !line.includes("caller=metrics.go")) continue;
    const ts = /\bts=(\S+)/.exec(line)?.[1];
    const query = /\bquery="((?:[^"\\]|\\.)*)"/.exec(line)?.[1];
    const duration = /\bduration=(\S+)/.exec(line)?.[1];
    if (!ts || query === undefined || (!start && !duration)) continue;
    const q = query.replaceAll('\\"', '"');
    out.push(
      start
        ? { event: "start", atMs: Date.parse(ts), query: q }
        : { event: "end", atMs: Date.parse(ts), query: q, ms: goDurationMs(duration!) },
    );
  }
  return out;
}
