// The fairgate edge on Node side by side with what else could do its job, in one run: nginx as a plain reverse
// proxy, HAProxy verifying the same ES256 token with jwt_verify on every request, and a bare node:http + undici
// proxy with no auth (what Node itself can proxy). Every proxy has one core's worth of workers (one nginx
// worker, one HAProxy thread, one Node process) except the edge with server.workers: 2. The upstream is nginx
// answering 200. Run: npx tsx bench/edge.ts
//
// Env: BENCH_SECONDS (measure, default 8), BENCH_WARMUP (default 2), BENCH_CONNECTIONS (default 32),
// BENCH_THREADS (wrk threads, default 1), BENCH_ROUNDS (default 1: the cases alternate round by round and each
// figure is the median over rounds), BENCH_ALG (ES256|RS256, default ES256), BENCH_LOADGEN=node to skip wrk
// (then without the cold cases, which need wrk), BENCH_CASES (names to run, comma-separated).
import { availableParallelism } from "node:os";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BENCH_AUDIENCE, startIssuer } from "./lib/issuer.js";
import { startHaproxy } from "./lib/haproxy.js";
import { measure, type LoadOptions, type LoadResult, type LoadTool } from "./lib/load.js";
import {
  freePort,
  spawnServer,
  startNginx,
  startNodeUpstream,
  UPSTREAM_BODY,
  which,
  type Server,
} from "./lib/servers.js";

const QUERY_PATH = "/loki/api/v1/query?query=%7Bjob%3D%22bench%22%7D";
// The cold cases cycle through more new tokens than the verification cache holds (token_cache_size, 10,000 by
// default): in a cycle longer than an LRU, every token has been evicted by the time it comes round again.
const COLD_TOKENS = 20_000;
const STRETCH_OF_BARE = 0.8;

const int = (name: string, def: number) => {
  const v = Number(process.env[name] ?? def);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a whole number, got ${process.env[name]}`);
  return v;
};
const alg = (process.env.BENCH_ALG ?? "ES256") as "ES256" | "RS256";
const wrkPath = process.env.BENCH_LOADGEN === "node" ? undefined : which("wrk");
const tool: LoadTool = wrkPath ? { name: "wrk", path: wrkPath } : { name: "node" };
const only = process.env.BENCH_CASES?.split(",").map((s) => s.trim());
const root = fileURLToPath(new URL("..", import.meta.url));

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

/**
 * One request before the load: a misconfigured target answering 401 fast must not look like a fast target, and a
 * proxy that verifies must have sent the upstream a tenant and an actor path (nginx echoes them back).
 */
async function preflight(c: Case, token: string): Promise<void> {
  const res = await fetch(c.url + QUERY_PATH, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  if (res.status !== 200 || body.trim() !== UPSTREAM_BODY)
    throw new Error(`${c.label}: expected 200 with the upstream's body, got ${res.status}: ${body.slice(0, 300)}`);
  const [tenant, actor] = [res.headers.get("x-seen-tenant"), res.headers.get("x-seen-actor")];
  if (c.verifies && (tenant !== "team-a" || !actor?.startsWith("users|")))
    throw new Error(`${c.label}: the upstream saw tenant ${tenant} and actor path ${actor}`);
}

interface Case {
  name: string;
  label: string;
  url: string;
  verifies: boolean;
  /** Every request with a new token. */
  cold?: boolean;
}
type Figures = LoadResult & { case: Case };

/** fairgate's edge as an operator runs it: its own process (and workers), started from the CLI. */
async function startEdge(issuer: string, upstream: string, workers: number): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "fairgate-bench-edge-"));
  const port = await freePort();
  const config = {
    server: { listen: `127.0.0.1:${port}`, workers },
    // Like nginx's and HAProxy's access logs off here: the bench measures proxying, not writing a line per request.
    log: { level: "warn" },
    // Edge alone must sign the identity it hands the frontend; HS256 (a secret) is the cheaper of the two choices.
    identity: { secret: "bench-identity-secret-0123456789abcdef" },
    edge: {
      issuers: [{ issuer, audiences: [BENCH_AUDIENCE], algorithms: [alg] }],
      tenants: { rules: [{ claim: "groups", read: ["$value"] }] },
      actor: { secret: "bench-actor-secret-0123456789" },
      upstream: { read_url: upstream },
    },
  };
  writeFileSync(join(dir, "edge.yaml"), JSON.stringify(config)); // JSON is YAML
  const main = join(root, "src/main.ts");
  const args = ["--import", "tsx", main, "edge", "--config", join(dir, "edge.yaml")];
  // Compiling the sources on start takes a while on a busy machine (and once per worker).
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  return spawnServer("fairgate edge", process.execPath, args, port, cleanup, 60_000);
}

async function main(): Promise<void> {
  const load: LoadOptions = {
    seconds: Math.max(1, int("BENCH_SECONDS", 8)),
    warmupSeconds: int("BENCH_WARMUP", 2),
    connections: Math.max(1, int("BENCH_CONNECTIONS", 32)),
    threads: Math.max(1, int("BENCH_THREADS", 1)),
    headers: {},
  };
  const rounds = Math.max(1, int("BENCH_ROUNDS", 1));
  const wanted = (name: string) => !only || only.includes(name);
  const cases: Case[] = [];
  const add = (name: string, label: string, url: string, verifies: boolean, cold?: boolean) => {
    if (wanted(name)) cases.push({ name, label, url, verifies, cold });
  };

  const issuer = await started(startIssuer(alg).then((i) => ({ ...i, url: i.issuer })));
  // Every case sends the same token (so request sizes match) but the cold ones, which send a new one each time.
  load.headers = { authorization: `Bearer ${issuer.token}` };
  const nginx = which("nginx");
  const haproxy = which("haproxy");
  // nginx's `return` is about the cheapest HTTP answer there is: the bench measures the proxy, not the upstream.
  const upstream = await started(nginx ? startNginx(nginx, { serve: UPSTREAM_BODY }, 1) : startNodeUpstream());
  add("direct", `direct to upstream (${nginx ? "nginx return 200" : "node:http"})`, upstream.url, false);
  if (nginx && wanted("nginx"))
    add(
      "nginx",
      "nginx proxy, no auth (1 worker)",
      (await started(startNginx(nginx, { proxyTo: upstream.url }, 1))).url,
      false,
    );
  else if (!nginx) console.log("nginx is not installed: no nginx cases (apt-get install nginx)");
  if (haproxy && wanted("haproxy")) {
    const h = await started(
      startHaproxy(haproxy, {
        upstream: upstream.url,
        issuer: issuer.issuer,
        audience: BENCH_AUDIENCE,
        alg,
        publicKeyPem: issuer.publicKeyPem,
      }),
    );
    add("haproxy", "HAProxy jwt_verify every request (1 thread)", h.url, true);
  } else if (!haproxy) console.log("haproxy is not installed: no HAProxy case (apt-get install haproxy)");
  if (wanted("bare_node")) {
    const port = await freePort();
    const script = join(root, "bench/lib/bare-proxy.ts");
    const bare = await started(
      spawnServer(
        "bare proxy",
        process.execPath,
        ["--import", "tsx", script, String(port), upstream.url],
        port,
        () => {},
        30_000,
      ),
    );
    add("bare_node", "bare node:http + undici Pool, no auth", bare.url, false);
  }
  const coldTokens = tool.name === "wrk" ? await issuer.mint(COLD_TOKENS) : undefined;
  if (!coldTokens) console.log("no wrk: no cold cases (a new token per request needs wrk's scripting)");
  for (const workers of [1, 2]) {
    const names = [`edge_w${workers}_warm`, `edge_w${workers}_cold`];
    if (!names.some(wanted)) continue;
    const edge = await started(startEdge(issuer.issuer, upstream.url, workers));
    const w = `${workers} worker${workers > 1 ? "s" : ""}`;
    add(names[0]!, `fairgate edge, ${w}, token cache warm`, edge.url, true);
    if (coldTokens) add(names[1]!, `fairgate edge, ${w}, every token new`, edge.url, true, true);
  }

  const figures = new Map<string, Figures[]>();
  for (let round = 1; round <= rounds; round++)
    for (const c of cases) {
      await preflight(c, c.cold ? coldTokens![0]! : issuer.token);
      process.stderr.write(`… round ${round}/${rounds}: ${c.label}\n`);
      const r = await measure(tool, c.url + QUERY_PATH, c.cold ? { ...load, tokens: coldTokens } : load);
      figures.set(c.name, [...(figures.get(c.name) ?? []), { ...r, case: c }]);
    }
  report(cases, figures, load, rounds, issuer.hits);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function report(
  cases: Case[],
  figures: Map<string, Figures[]>,
  load: LoadOptions,
  rounds: number,
  idpHits: { discovery: number; jwks: number },
): void {
  const med = new Map(
    cases.map((c) => {
      const runs = figures.get(c.name)!;
      const pick = (f: (r: LoadResult) => number) => median(runs.map(f));
      return [
        c.name,
        {
          rps: pick((r) => r.rps),
          p50Ms: pick((r) => r.p50Ms),
          p99Ms: pick((r) => r.p99Ms),
          errors: runs.reduce((n, r) => n + r.errors, 0),
          requests: runs.reduce((n, r) => n + r.requests, 0),
        },
      ];
    }),
  );
  const ratio = (a: string, b: string) => {
    const [x, y] = [med.get(a), med.get(b)];
    return x && y ? x.rps / y.rps : undefined;
  };
  const x = (r?: number) => (r === undefined ? "-" : `${r.toFixed(2)}×`);
  const width = Math.max(...cases.map((c) => c.label.length));
  const head =
    `${"case".padEnd(width)}  ${"req/s".padStart(8)}  ${"p50 ms".padStart(7)}  ${"p99 ms".padStart(7)}  ` +
    `${"errors".padStart(6)}  ${"/haproxy".padStart(8)}  ${"/nginx".padStart(7)}  ${"/bare".padStart(6)}`;
  console.log(
    `\nload: ${tool.name}, ${load.connections} connections, ${load.threads} thread(s), ${load.warmupSeconds}s ` +
      `warmup + ${load.seconds}s per case, ${rounds} round(s), medians; token ${alg}; ${availableParallelism()} ` +
      `CPUs shared by load generator, proxies and upstream\n`,
  );
  console.log(head);
  console.log("-".repeat(head.length));
  for (const c of cases) {
    const m = med.get(c.name)!;
    console.log(
      `${c.label.padEnd(width)}  ${m.rps.toFixed(0).padStart(8)}  ${m.p50Ms.toFixed(2).padStart(7)}  ` +
        `${m.p99Ms.toFixed(2).padStart(7)}  ${String(m.errors).padStart(6)}  ` +
        `${x(ratio(c.name, "haproxy")).padStart(8)}  ${x(ratio(c.name, "nginx")).padStart(7)}  ` +
        `${x(ratio(c.name, "bare_node")).padStart(6)}`,
    );
  }

  console.log("");
  const warm = med.get("edge_w1_warm");
  const hap = med.get("haproxy");
  const bare = med.get("bare_node");
  const verdict = (ok: boolean | undefined) => (ok === undefined ? "not judged" : ok ? "MET" : "NOT MET");
  const targets = {
    rps_vs_haproxy: warm && hap ? warm.rps >= hap.rps && warm.errors === 0 : undefined,
    p50_vs_haproxy: warm && hap ? warm.p50Ms <= hap.p50Ms : undefined,
    stretch_vs_bare: warm && bare ? warm.rps >= STRETCH_OF_BARE * bare.rps : undefined,
  };
  const shown = (r?: number) => (r === undefined ? "" : ` (${r.toFixed(2)}×)`);
  console.log(
    `target: edge (1 worker, warm) req/s ≥ 1.0 × HAProxy's: ${verdict(targets.rps_vs_haproxy)}` +
      shown(ratio("edge_w1_warm", "haproxy")),
  );
  console.log(
    `target: edge (1 worker, warm) p50 ≤ HAProxy's: ${verdict(targets.p50_vs_haproxy)}` +
      (warm && hap ? ` (${warm.p50Ms.toFixed(2)} vs ${hap.p50Ms.toFixed(2)} ms)` : ""),
  );
  console.log(
    `stretch: edge (1 worker, warm) req/s ≥ ${STRETCH_OF_BARE} × bare node:http + undici: ` +
      `${verdict(targets.stretch_vs_bare)}${shown(ratio("edge_w1_warm", "bare_node"))}`,
  );
  if ([...med.values()].some((m) => m.errors > 0))
    console.log("WARNING: some cases had errors (non-2xx, socket errors or timeouts); their figures are suspect");

  const round = (n: number, d: number) => Math.round(n * 10 ** d) / 10 ** d;
  const json = {
    tool: tool.name,
    connections: load.connections,
    threads: load.threads,
    seconds: load.seconds,
    warmup_seconds: load.warmupSeconds,
    rounds,
    cpus: availableParallelism(),
    alg,
    cases: Object.fromEntries(
      [...med].map(([name, m]) => [
        name,
        {
          rps: round(m.rps, 1),
          p50_ms: round(m.p50Ms, 3),
          p99_ms: round(m.p99Ms, 3),
          requests: m.requests,
          errors: m.errors,
        },
      ]),
    ),
    ratios: Object.fromEntries(
      cases
        .flatMap((c) => ["haproxy", "nginx", "bare_node"].map((b) => [`${c.name}/${b}`, ratio(c.name, b)] as const))
        .filter(([k, v]) => v !== undefined && !k.startsWith(`${k.split("/")[1]}/`))
        .map(([k, v]) => [k, round(v!, 3)]),
    ),
    targets,
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
