// Throughput and latency of the fairgate edge on Node, against the same upstream reached directly
// and through nginx as a plain reverse proxy. Run: npx tsx bench/edge.ts
//
// Env: BENCH_SECONDS (measure, default 8), BENCH_WARMUP (default 2), BENCH_CONNECTIONS (default 32),
// BENCH_THREADS (wrk threads, default 1), BENCH_ALG (ES256|RS256, default ES256),
// BENCH_NGINX_AUTO=0 to skip the `worker_processes auto` case, BENCH_LOADGEN=node to skip wrk.
import { availableParallelism } from "node:os";
import { parseConfig } from "../src/config/load.js";
import { run } from "../src/node/run.js";
import { BENCH_AUDIENCE, startIssuer } from "./lib/issuer.js";
import { measure, type LoadOptions, type LoadResult, type LoadTool } from "./lib/load.js";
import { startNginx, startNodeUpstream, UPSTREAM_BODY, which, type Server } from "./lib/servers.js";

const TARGET_RATIO = 0.5;
const QUERY_PATH = "/loki/api/v1/query?query=%7Bjob%3D%22bench%22%7D";

const int = (name: string, def: number) => {
  const v = Number(process.env[name] ?? def);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a whole number, got ${process.env[name]}`);
  return v;
};
const alg = (process.env.BENCH_ALG ?? "ES256") as "ES256" | "RS256";
const wrkPath = process.env.BENCH_LOADGEN === "node" ? undefined : which("wrk");
const tool: LoadTool = wrkPath ? { name: "wrk", path: wrkPath } : { name: "node" };
const nginx = which("nginx");

// Servers stop in reverse start order, on success, on error, and on Ctrl-C.
const cleanups: (() => Promise<void>)[] = [];
async function stopAll(): Promise<void> {
  for (const close of cleanups.splice(0).reverse()) await close().catch((e) => console.error("cleanup:", e));
}
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.once(sig, () => void stopAll().finally(() => process.exit(130)));
async function started<T extends Server>(server: Promise<T>): Promise<T> {
  const s = await server;
  cleanups.push(() => s.close());
  return s;
}

/** One request before the load: a misconfigured target answering 401 fast must not look like a fast target. */
async function preflight(name: string, url: string, headers: Record<string, string>): Promise<void> {
  const res = await fetch(url, { headers });
  const body = await res.text();
  if (res.status !== 200 || body.trim() !== UPSTREAM_BODY)
    throw new Error(`${name}: expected 200 with the upstream's body, got ${res.status}: ${body.slice(0, 300)}`);
}

interface Case extends LoadResult {
  name: string;
  label: string;
}

async function main(): Promise<void> {
  const load: LoadOptions = {
    seconds: Math.max(1, int("BENCH_SECONDS", 8)),
    warmupSeconds: int("BENCH_WARMUP", 2),
    connections: Math.max(1, int("BENCH_CONNECTIONS", 32)),
    threads: Math.max(1, int("BENCH_THREADS", 1)),
    headers: {},
  };
  const cases: Case[] = [];
  const bench = async (name: string, label: string, base: string) => {
    const url = base + QUERY_PATH;
    await preflight(label, url, load.headers);
    process.stderr.write(`… ${label}\n`);
    cases.push({ name, label, ...(await measure(tool, url, load)) });
  };

  const issuer = await started(startIssuer(alg).then((i) => ({ ...i, url: i.issuer })));
  // Every case sends the same token, so request sizes match; only the edge reads it.
  load.headers = { authorization: `Bearer ${issuer.token}` };

  // nginx's `return` is about the cheapest HTTP answer there is: the bench measures the proxy, not the upstream.
  const upstream = await started(nginx ? startNginx(nginx, { serve: UPSTREAM_BODY }, 1) : startNodeUpstream());
  await bench("direct", `direct to upstream (${nginx ? "nginx return 200" : "node:http"})`, upstream.url);

  for (const [name, label, cacheSize] of [
    ["edge_cached", "edge, verification cache warm (default token_cache_size)", undefined],
    ["edge_nocache", "edge, token_cache_size 0 (full verify per request)", 0],
  ] as const) {
    const config = parseConfig({
      server: { listen: "127.0.0.1:0" },
      // Like nginx's access_log off here: the bench measures proxying, not writing a log line per request.
      log: { level: "warn" },
      // Edge alone must sign the identity it hands the frontend; HS256 (a secret) is the cheaper of the two choices.
      identity: { secret: "bench-identity-secret-0123456789abcdef" },
      edge: {
        issuers: [{ issuer: issuer.issuer, audiences: [BENCH_AUDIENCE], algorithms: [alg] }],
        ...(cacheSize === undefined ? {} : { token_cache_size: cacheSize }),
        tenants: { rules: [{ claim: "groups", read: ["$value"] }] },
        actor: { secret: "bench-actor-secret-0123456789" },
        upstream: { read_url: upstream.url },
      },
    });
    const edge = await run(config, "edge");
    cleanups.push(() => edge.close(1_000));
    await bench(name, label, edge.url);
    await cleanups.pop()!();
  }

  if (nginx) {
    // One worker is the fair match for the single-threaded Node edge. `auto` shows what more workers buy
    // when they share the same cores with wrk and the upstream (on 2 CPUs: usually less, not more).
    const workerCounts: (1 | "auto")[] = process.env.BENCH_NGINX_AUTO === "0" ? [1] : [1, "auto"];
    for (const workers of workerCounts) {
      const proxy = await started(startNginx(nginx, { proxyTo: upstream.url }, workers));
      const shown = workers === "auto" ? `auto = ${availableParallelism()}` : "1";
      await bench(
        workers === 1 ? "nginx_1w" : "nginx_auto",
        `nginx reverse proxy (worker_processes ${shown})`,
        proxy.url,
      );
      await cleanups.pop()!();
    }
  }

  report(cases, load, issuer.hits);
}

function report(cases: Case[], load: LoadOptions, idpHits: { discovery: number; jwks: number }): void {
  const by = (name: string) => cases.find((c) => c.name === name);
  const direct = by("direct")!;
  const nginx1 = by("nginx_1w");
  const ratio = (a?: Case, b?: Case) => (a && b ? a.rps / b.rps : undefined);
  const x = (r?: number) => (r === undefined ? "-" : `${r.toFixed(2)}×`);

  const width = Math.max(...cases.map((c) => c.label.length));
  const head =
    `${"case".padEnd(width)}  ${"req/s".padStart(9)}  ${"p50 ms".padStart(7)}  ${"p99 ms".padStart(7)}  ` +
    `${"errors".padStart(6)}  ${"/direct".padStart(7)}  ${"/nginx1".padStart(7)}`;
  console.log(
    `\nload: ${tool.name}, ${load.connections} connections, ${load.threads} thread(s), ${load.warmupSeconds}s ` +
      `warmup + ${load.seconds}s; token ${alg}; ${availableParallelism()} CPUs shared by load generator, proxy and ` +
      `upstream\n`,
  );
  console.log(head);
  console.log("-".repeat(head.length));
  for (const c of cases)
    console.log(
      `${c.label.padEnd(width)}  ${c.rps.toFixed(0).padStart(9)}  ${c.p50Ms.toFixed(2).padStart(7)}  ` +
        `${c.p99Ms.toFixed(2).padStart(7)}  ${String(c.errors).padStart(6)}  ${x(ratio(c, direct)).padStart(7)}  ` +
        `${x(ratio(c, nginx1)).padStart(7)}`,
    );

  const target: Record<string, boolean | null> = {}; // null: not judged (no nginx)
  console.log("");
  for (const name of ["edge_cached", "edge_nocache"]) {
    const r = ratio(by(name), nginx1);
    target[name] = r === undefined ? null : r >= TARGET_RATIO && by(name)!.errors === 0;
    const verdict = r === undefined ? "not judged (no nginx)" : target[name] ? "MET" : "NOT MET";
    const shown = r === undefined ? "" : ` (${r.toFixed(2)}×)`;
    console.log(`target edge ≥ ${TARGET_RATIO} × nginx (1 worker) req/s, ${name}: ${verdict}${shown}`);
  }
  if (cases.some((c) => c.errors > 0))
    console.log("WARNING: some cases had errors (non-2xx, socket errors or timeouts); their figures are suspect");

  const round = (n: number, d: number) => Math.round(n * 10 ** d) / 10 ** d;
  const json = {
    tool: tool.name,
    connections: load.connections,
    threads: load.threads,
    seconds: load.seconds,
    warmup_seconds: load.warmupSeconds,
    cpus: availableParallelism(),
    alg,
    cases: Object.fromEntries(
      cases.map((c) => [
        c.name,
        {
          rps: round(c.rps, 1),
          p50_ms: round(c.p50Ms, 3),
          p99_ms: round(c.p99Ms, 3),
          requests: c.requests,
          errors: c.errors,
        },
      ]),
    ),
    ratios: Object.fromEntries(
      ["edge_cached", "edge_nocache", "nginx_1w", "nginx_auto"]
        .flatMap((n) => [
          [`${n}/direct`, ratio(by(n), direct)],
          [`${n}/nginx_1w`, n === "nginx_1w" ? undefined : ratio(by(n), nginx1)],
        ])
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, round(v as number, 3)]),
    ),
    target: { ratio: TARGET_RATIO, met: target },
    idp_hits: idpHits,
  };
  console.log(`BENCH_JSON ${JSON.stringify(json)}`);
}

try {
  await main();
} catch (e) {
  console.error("bench failed:", e);
  process.exitCode = 1;
} finally {
  await stopAll();
}
