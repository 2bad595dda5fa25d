import { answersOk, type ReadyProcess, startReadyProcess, until } from "./ready-process.js";
import { rng } from "./rng.js";
import { findShared, type SharedBinary, sharedOrSkip } from "./shared-binary.js";

/**
 * A real Grafana Loki (the single binary, every target in one process) for tests and benchmarks,
 * supervised so that nothing outlives the test, with generated history pushed into it.
 *
 * The binary is found through LOKI_BIN or at ../shared/loki/loki-3.4.6-linux-amd64 from the
 * repository's root. Without it, lokiOrSkip() says so and the suite is skipped; in CI (CI=true) a
 * missing binary is an error, since CI always has it.
 */

const LOKI: SharedBinary = {
  product: "Loki",
  envVar: "LOKI_BIN",
  sharedPath: "loki/loki-3.4.6-linux-amd64",
  get: "get loki-linux-amd64.zip from https://github.com/grafana/loki/releases/tag/v3.4.6 and unzip it",
  released: "loki-linux-amd64",
};

/** The Loki binary to run, if there is one (LOKI_BIN first). */
export const findLoki = (): string | undefined => findShared(LOKI);

/**
 * The Loki binary, or undefined after a plain warning that `suite` is skipped and how to run it.
 * Throws when CI=true: CI always has the binary, so its absence there is a failure, not a skip.
 */
export const lokiOrSkip = (suite: string): string | undefined => sharedOrSkip(LOKI, suite);

export type TestLoki = ReadyProcess;

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
  /** querier.per_request_limits_enabled: Loki applies X-Loki-Query-Limits (only where it tightens its own). */
  perRequestLimits?: boolean;
  /** More limits_config lines, YAML at two spaces (e.g. "max_query_bytes_read: 1KB"). */
  limits?: string[];
}

/** Where one Loki process keeps its ring: in memory (alone), or in memberlist joined to `join` (several). */
type Ring = { store: "inmemory" } | { store: "memberlist"; join: number };

/**
 * Multi-tenant, everything on the local filesystem under `dir`, Loki's own results cache off unless asked for,
 * history of any age accepted, and no reporting anywhere. ports: [http, grpc, memberlist].
 */
function lokiConfig(dir: string, ports: number[], ring: Ring, opts: StartLokiOptions, extra = ""): string {
  const [httpPort, grpcPort, memberlistPort] = ports;
  const cache = opts.resultsCache
    ? `cache_results: true
  results_cache:
    cache:
      embedded_cache:
        enabled: true
        max_size_mb: 256`
    : "cache_results: false";
  const memberlist =
    ring.store === "memberlist"
      ? `memberlist:
  bind_addr: [127.0.0.1]
  bind_port: ${memberlistPort}
  advertise_addr: 127.0.0.1
  advertise_port: ${memberlistPort}
  join_members: [127.0.0.1:${ring.join}]
query_scheduler:
  use_scheduler_ring: true
`
      : "";
  return `auth_enabled: true
server:
  http_listen_address: 127.0.0.1
  http_listen_port: ${httpPort}
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: ${grpcPort}
  log_level: ${opts.logLevel ?? "warn"}
${memberlist}common:
  instance_addr: 127.0.0.1
  path_prefix: ${dir}
  replication_factor: 1
  ring:
    kvstore:
      store: ${ring.store}
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
${(opts.limits ?? []).map((l) => `  ${l}\n`).join("")}query_range:
  ${cache}
pattern_ingester:
  enabled: ${opts.patterns ?? false}
analytics:
  reporting_enabled: false
${extra}`;
}

/** One Loki process holding every target, its ring in memory. */
export async function startLoki(opts: StartLokiOptions = {}): Promise<TestLoki> {
  const bin = opts.bin ?? findLoki();
  if (!bin) throw new Error("startLoki: no Loki binary (set LOKI_BIN)");
  const querier =
    `querier:\n  max_concurrent: ${opts.maxConcurrent ?? 4}\n` +
    `  per_request_limits_enabled: ${opts.perRequestLimits ?? false}\n`;
  return startReadyProcess({
    name: "loki",
    bin,
    portCount: 2,
    timeoutMs: opts.timeoutMs,
    config: (dir, ports) => lokiConfig(dir, ports, { store: "inmemory" }, opts, querier),
  });
}

// ---------------------------------------------------------------------------------------------
// Several queriers that serve the query API themselves
// ---------------------------------------------------------------------------------------------

/*
 * Facts established with Loki 3.4.6 (2026-12-06), which this test bed relies on:
 * - A write process `-target=distributor,ingester,compactor` and any number of `-target=querier` processes, each
 *   with `memberlist.join_members` set to the write process's memberlist port and `common.ring.kvstore.store:
 *   memberlist`, form one ring on loopback: the queriers find the ingester through it within seconds.
 * - With `querier.query_ingester_only: true` and `query_ingesters_within: 0` every querier reads all seven days
 *   from the ingester (nothing is flushed: `ingester.max_chunk_age: 2160h`), so all queriers see the same data
 *   at once after a push. Each process has its own path_prefix; the queriers never read the write process's files.
 * - A querier needs `common.compactor_address` (the write process's HTTP address) to serve queries at all
 *   ("query filtering for deletes requires 'compactor_grpc_address' or 'compactor_address'").
 * - A `-target=querier` process serves /loki/api/v1/query_range, /query, labels, series... itself, answering
 *   `text/plain; charset=utf-8` with a JSON body. Started with no frontend or scheduler address, its worker
 *   watches the query-scheduler ring (logging "error getting addresses from ring: empty ring" every 3 s at level
 *   error while there is none). With `query_scheduler.use_scheduler_ring: true` everywhere, a process started
 *   later with `-target=query-frontend,query-scheduler` joins that ring, the running queriers connect to it and
 *   pull its work (querier.max_concurrent workers each), and it answers `application/json`: Loki's own read path
 *   in front of the same querier processes, with no restart of the queriers.
 */

export interface LokiQueriersOptions extends StartLokiOptions {
  /** Querier processes (default 2). */
  queriers?: number;
}

export interface TestLokiQueriers {
  /** The write path (distributor, ingester, compactor): push here. */
  write: TestLoki;
  /** The querier processes, each serving the query API itself. */
  queriers: TestLoki[];
  /** Their URLs, for fairgate's `queriers:`. */
  querierUrls: string[];
  /**
   * Starts (once) Loki's own query-frontend and query-scheduler in one process, joined to the ring, so that the
   * same querier processes also take its work. Its results cache follows the options (off by default).
   */
  startFrontend(): Promise<TestLoki>;
  /** Stops every process; safe to call twice. */
  close(): Promise<void>;
}

/** Whether a Loki query API reaches the ingester through the ring (an empty ring answers an error). */
const reachesIngester = (url: string) => answersOk(`${url}/loki/api/v1/labels`);

/** A write process and `queriers` querier processes on one memberlist ring, each ready and reaching the ingester. */
export async function startLokiQueriers(opts: LokiQueriersOptions = {}): Promise<TestLokiQueriers> {
  const bin = opts.bin ?? findLoki();
  if (!bin) throw new Error("startLokiQueriers: no Loki binary (set LOKI_BIN)");
  const started: TestLoki[] = [];
  const close = async () => void (await Promise.all(started.map((p) => p.close())));
  try {
    const readOnlyIngester = "querier:\n  query_ingester_only: true\n  query_ingesters_within: 0\n";
    const write = await startReadyProcess({
      name: "loki write",
      bin,
      args: ["-target=distributor,ingester,compactor"],
      portCount: 3,
      timeoutMs: opts.timeoutMs,
      config: (dir, ports) =>
        lokiConfig(dir, ports, { store: "memberlist", join: ports[2]! }, opts, readOnlyIngester).replace(
          "common:\n",
          `common:\n  compactor_address: http://127.0.0.1:${ports[0]}\n`,
        ),
    });
    started.push(write);
    const ring: Ring = { store: "memberlist", join: write.ports[2]! };
    const joined = (dir: string, ports: number[], extra: string) =>
      lokiConfig(dir, ports, ring, opts, extra).replace("common:\n", `common:\n  compactor_address: ${write.url}\n`);
    const queriers = await Promise.all(
      Array.from({ length: opts.queriers ?? 2 }, async (_, i) => {
        const q = await startReadyProcess({
          name: `loki querier ${i + 1}`,
          bin,
          args: ["-target=querier"],
          portCount: 3,
          timeoutMs: opts.timeoutMs,
          config: (dir, ports) =>
            joined(dir, ports, `${readOnlyIngester}  max_concurrent: ${opts.maxConcurrent ?? 4}\n`),
        });
        started.push(q);
        await until(`loki querier ${q.url} reaching the ingester`, () => reachesIngester(q.url));
        return q;
      }),
    );
    let frontend: Promise<TestLoki> | undefined;
    const startFrontend = () =>
      (frontend ??= (async () => {
        const f = await startReadyProcess({
          name: "loki frontend",
          bin,
          args: ["-target=query-frontend,query-scheduler"],
          portCount: 3,
          timeoutMs: opts.timeoutMs,
          config: (dir, ports) => joined(dir, ports, ""),
        });
        started.push(f);
        // Ready before any querier has connected: it answers once a query gets through.
        await until(`loki frontend ${f.url} reaching a querier`, () => reachesIngester(f.url));
        return f;
      })());
    return { write, queriers, querierUrls: queriers.map((q) => q.url), startFrontend, close };
  } catch (e) {
    await close();
    throw e;
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

/**
 * A dense stream, {app="batch"}, over the last whole hour before now: `perSecond` lines a second, for `tenant`
 * (default tenant-a). Queries over it cost the querier far more than the same queries over the seeded, sparse
 * history. Returns the end of that hour (seconds).
 */
export async function pushDenseHour(loki: Pick<TestLoki, "url">, perSecond: number, tenant = "tenant-a") {
  const endMs = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const bodies: string[] = [];
  for (let minute = 0; minute < 60; minute++) {
    const values: [string, string][] = [];
    const base = BigInt(endMs - 3_600_000 + minute * 60_000) * 1_000_000n;
    for (let i = 0; i < 60 * perSecond; i++) {
      const status = i % 7 === 0 ? 500 : 200;
      const line = `level=info method=GET path=/api/orders status=${status} duration=0.0${i % 10} msg="batch ${i}"`;
      values.push([(base + BigInt(Math.floor((i * 1e9) / perSecond))).toString(), line]);
    }
    bodies.push(JSON.stringify({ streams: [{ stream: { app: "batch", env: "prod", level: "info" }, values }] }));
  }
  await pushBatches(
    loki,
    bodies.map((body) => ({ tenant, body })),
  );
  return endMs / 1000;
}

let costSerial = 0;

/**
 * Two users' queries over pushDenseHour's hour (ending at `hourEnd`), each call a distinct query: `dear`, a regex over
 * 12 minutes of the dense stream, costs several times `cheap`, an hour of a sparse stream. Their texts hold
 * "cost-e-" and "cost-c-", to find them in the queriers' logs.
 */
export function denseHourCostQueries(hourEnd: number) {
  const step = { end: String(hourEnd), step: "60" };
  return {
    dear: () => ({
      query: `sum(count_over_time({app="batch"} |~ "status=5.." != "cost-e-${costSerial++}" [1m]))`,
      start: String(hourEnd - 12 * 60),
      ...step,
    }),
    cheap: () => ({
      query: `sum(count_over_time({env="prod", app="api", level="error"} != "cost-c-${costSerial++}" [1m]))`,
      start: String(hourEnd - 3600),
      ...step,
    }),
  };
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
