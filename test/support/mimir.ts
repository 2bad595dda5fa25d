import { answersOk, type ReadyProcess, startReadyProcess, until } from "./ready-process.js";
import { remoteWrite, type Series } from "./remote-write.js";
import { rng } from "./rng.js";
import { findShared, type SharedBinary, sharedOrSkip } from "./shared-binary.js";

/**
 * A real Grafana Mimir for tests and benchmarks: a monolith (`-target=all`) that takes writes, and querier processes
 * (`-target=querier`) that serve the query API themselves, all on one memberlist ring on loopback; Mimir's own
 * query-frontend and query-scheduler can be started in front of the same queriers.
 *
 * Facts established with Mimir 3.0.2 (2026-12-06), which this test bed relies on:
 * - A `-target=querier` process with `memberlist.join_members` set to the monolith's memberlist port is ready in
 *   seconds and serves /prometheus/api/v1/query_range, /query, labels, series... itself (application/json).
 * - With the limit `query_ingesters_within: 0` queriers ask the ingester for every range, and the ingester keeps
 *   its blocks (`blocks_storage.tsdb.retention_period: 240h`): seven days pushed by remote write (with
 *   `out_of_order_time_window: 8d`) are queryable at once on every querier, with no wait for block shipping.
 * - `-querier.max-concurrent` has a floor of 4 (lower values are raised to 4).
 * - With `query_scheduler.service_discovery_mode: ring` on the queriers, a process started later with
 *   `-target=query-frontend,query-scheduler` in the same mode joins the scheduler ring and the running queriers
 *   connect to it (max_concurrent workers each): Mimir's own read path in front of the same queriers. The
 *   monolith stays in the default `dns` mode, so its own querier does not take that work.
 * - Remote write 1.0 (protobuf WriteRequest in a snappy block) at POST /api/v1/push answers 200.
 *
 * The binary is found through MIMIR_BIN or at ../shared/mimir/mimir-3.0.2-linux-amd64 from the repository's root.
 */

const MIMIR: SharedBinary = {
  product: "Mimir",
  envVar: "MIMIR_BIN",
  sharedPath: "mimir/mimir-3.0.2-linux-amd64",
  get: "get mimir-linux-amd64 from https://github.com/grafana/mimir/releases/tag/mimir-3.0.2 and chmod +x it",
  released: "mimir-linux-amd64",
};

/** The Mimir binary to run, if there is one (MIMIR_BIN first). */
export const findMimir = (): string | undefined => findShared(MIMIR);

/**
 * The Mimir binary, or undefined after a plain warning that `suite` is skipped and how to run it. Throws when
 * CI=true: CI always has the binary, so its absence there is a failure, not a skip.
 */
export const mimirOrSkip = (suite: string): string | undefined => sharedOrSkip(MIMIR, suite);

export type MimirProcess = ReadyProcess;

export interface MimirQueriersOptions {
  /** The binary (default: findMimir()). */
  bin?: string;
  /** Querier processes (default 2). */
  queriers?: number;
  /** Workers per querier when Mimir's frontend is in front (querier.max_concurrent; at least 4, Mimir's floor). */
  maxConcurrent?: number;
  /** server.log_level (default warn). */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** How long to wait for each /ready (default 90 s). */
  timeoutMs?: number;
  /** Mimir's frontend caches results in this memcached ("127.0.0.1:PORT"; Mimir has no in-memory one). Default off. */
  resultsCacheMemcached?: string;
}

export interface TestMimirQueriers {
  /** The monolith: push here (`${url}/api/v1/push`); it also answers queries through its own frontend. */
  monolith: MimirProcess;
  /** The querier processes, each serving the query API itself under /prometheus. */
  queriers: MimirProcess[];
  /** Their URLs with the /prometheus prefix, for fairgate's `queriers:`. */
  querierUrls: string[];
  /** Remote-writes series for a tenant to the monolith. */
  push(tenant: string, series: Series[]): Promise<void>;
  /**
   * Starts (once) Mimir's own query-frontend and query-scheduler in one process, in front of the same queriers;
   * its results cache is off. Query it under `${url}/prometheus`.
   */
  startFrontend(): Promise<MimirProcess>;
  /** Stops every process; safe to call twice. */
  close(): Promise<void>;
}

type Role = "monolith" | "querier" | "frontend";

/** ports: [http, grpc, memberlist]; `join`: the monolith's memberlist port. */
function mimirConfig(dir: string, ports: number[], join: number, role: Role, opts: MimirQueriersOptions): string {
  const [httpPort, grpcPort, memberlistPort] = ports;
  const ring = "{instance_addr: 127.0.0.1, kvstore: {store: memberlist}";
  // The monolith keeps Mimir's default (dns) discovery, so its in-process querier never serves the frontend's queue.
  const discovery = role === "monolith" ? "" : "\n  service_discovery_mode: ring";
  return `multitenancy_enabled: true
usage_stats: {enabled: false}
server:
  http_listen_address: 127.0.0.1
  http_listen_port: ${httpPort}
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: ${grpcPort}
  log_level: ${opts.logLevel ?? "warn"}
memberlist:
  bind_addr: [127.0.0.1]
  bind_port: ${memberlistPort}
  advertise_addr: 127.0.0.1
  advertise_port: ${memberlistPort}
  join_members: [127.0.0.1:${join}]
distributor:
  ring: ${ring}}
ingester:
  ring: ${ring}, replication_factor: 1, final_sleep: 0s}
compactor:
  cleanup_interval: 1m
  sharding_ring: ${ring}}
store_gateway:
  sharding_ring: ${ring}, replication_factor: 1}
frontend:
  address: 127.0.0.1
${resultsCache(opts.resultsCacheMemcached)}
query_scheduler:${discovery}
  ring: ${ring}}
querier:
  max_concurrent: ${Math.max(4, opts.maxConcurrent ?? 4)}
blocks_storage:
  backend: filesystem
  filesystem: {dir: ${dir}/blocks}
  bucket_store: {sync_interval: 1m, sync_dir: ${dir}/sync}
  tsdb: {dir: ${dir}/tsdb, retention_period: 240h}
ruler_storage:
  backend: filesystem
  filesystem: {dir: ${dir}/rules}
activity_tracker: {filepath: ${dir}/activity}
limits:
  ingestion_rate: 10000000
  ingestion_burst_size: 50000000
  max_global_series_per_user: 0
  out_of_order_time_window: 8d
  compactor_block_upload_enabled: true
  query_ingesters_within: 0
`;
}

function resultsCache(memcached: string | undefined): string {
  if (!memcached) return "  cache_results: false";
  return `  cache_results: true
  results_cache:
    backend: memcached
    memcached: {addresses: "${memcached}"}`;
}

/** Whether a Mimir query API (with its /prometheus prefix) answers a labels request. */
const answersQueries = (prefixUrl: string) => answersOk(`${prefixUrl}/api/v1/labels`);

/** A monolith and `queriers` querier processes on one memberlist ring, each ready and answering queries. */
export async function startMimirQueriers(opts: MimirQueriersOptions = {}): Promise<TestMimirQueriers> {
  const bin = opts.bin ?? findMimir();
  if (!bin) throw new Error("startMimirQueriers: no Mimir binary (set MIMIR_BIN)");
  const started: MimirProcess[] = [];
  const close = async () => void (await Promise.all(started.map((p) => p.close())));
  const start = async (role: Role, name: string, join?: number) => {
    const p = await startReadyProcess({
      name,
      bin,
      args: [
        `-target=${role === "monolith" ? "all" : role === "querier" ? "querier" : "query-frontend,query-scheduler"}`,
      ],
      portCount: 3,
      timeoutMs: opts.timeoutMs,
      config: (dir, ports) => mimirConfig(dir, ports, join ?? ports[2]!, role, opts),
    });
    started.push(p);
    return p;
  };
  try {
    const monolith = await start("monolith", "mimir");
    const join = monolith.ports[2]!;
    const queriers = await Promise.all(
      Array.from({ length: opts.queriers ?? 2 }, async (_, i) => {
        const q = await start("querier", `mimir querier ${i + 1}`, join);
        await until(`mimir querier ${q.url} answering queries`, () => answersQueries(`${q.url}/prometheus`));
        return q;
      }),
    );
    let frontend: Promise<MimirProcess> | undefined;
    const startFrontend = () =>
      (frontend ??= (async () => {
        const f = await start("frontend", "mimir frontend", join);
        await until(`mimir frontend ${f.url} reaching a querier`, () => answersQueries(`${f.url}/prometheus`));
        return f;
      })());
    return {
      monolith,
      queriers,
      querierUrls: queriers.map((q) => `${q.url}/prometheus`),
      push: (tenant, series) => pushSeries(`${monolith.url}/api/v1/push`, tenant, series),
      startFrontend,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

export interface MetricsOptions {
  days?: number;
  /** Seconds between two samples of a series (default 60). */
  intervalSeconds?: number;
  /** Instances per job (default 4); jobs api and worker, methods GET and POST, codes 200, 404 and 500. */
  instancesPerJob?: number;
  /** Last sample's time, ms since the epoch (default: now). */
  endMs?: number;
  seed?: number;
}

export const METRICS = {
  jobs: ["api", "worker"],
  methods: ["GET", "POST"],
  codes: ["200", "404", "500"],
} as const;

/**
 * `days` of samples ending at `endMs`: a counter `http_requests_total{job, instance, method, code}` growing at a
 * seeded random rate, and a gauge `queue_depth{job, instance}`. Timestamps are on the interval grid.
 */
export function generateMetrics(opts: MetricsOptions = {}): Series[] {
  const interval = (opts.intervalSeconds ?? 60) * 1000;
  const end = Math.floor((opts.endMs ?? Date.now()) / interval) * interval;
  const count = Math.floor(((opts.days ?? 7) * 86_400_000) / interval);
  const random = rng(opts.seed ?? 21);
  const out: Series[] = [];
  const times = Array.from({ length: count }, (_, i) => end - (count - 1 - i) * interval);
  for (const job of METRICS.jobs)
    for (let n = 0; n < (opts.instancesPerJob ?? 4); n++) {
      const instance = `${job}-${n}:8080`;
      for (const method of METRICS.methods)
        for (const code of METRICS.codes) {
          const rate = (code === "200" ? 20 : code === "404" ? 2 : 0.3) * (method === "GET" ? 1 : 0.4);
          let v = Math.floor(random() * 1000);
          const samples = times.map((t): [number, number] => [t, (v += Math.round(rate * (0.5 + random()) * 60))]);
          out.push({ labels: { __name__: "http_requests_total", job, instance, method, code }, samples });
        }
      const samples = times.map((t): [number, number] => [t, Math.round(random() * 100)]);
      out.push({ labels: { __name__: "queue_depth", job, instance }, samples });
    }
  return out;
}

/** Remote-writes series, a few series and a day of samples per request, four requests at a time. */
export async function pushSeries(pushUrl: string, tenant: string, series: Series[]): Promise<void> {
  const DAY = 86_400_000;
  const batches: Series[][] = [];
  for (let i = 0; i < series.length; i += 8) {
    const group = series.slice(i, i + 8);
    const first = Math.min(...group.map((s) => s.samples[0]?.[0] ?? Infinity));
    const last = Math.max(...group.map((s) => s.samples.at(-1)?.[0] ?? -Infinity));
    for (let from = first; from <= last; from += DAY)
      batches.push(
        group.map((s) => ({ labels: s.labels, samples: s.samples.filter(([t]) => t >= from && t < from + DAY) })),
      );
  }
  let next = 0;
  const worker = async () => {
    while (next < batches.length) await remoteWrite(pushUrl, tenant, batches[next++]!);
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}
