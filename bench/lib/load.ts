import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { track } from "./servers.js";

export interface LoadOptions {
  seconds: number;
  warmupSeconds: number;
  connections: number;
  /** wrk threads; the Node generator always uses one event loop. */
  threads: number;
  headers: Record<string, string>;
  /** wrk only: each request carries the next of these bearer tokens (in place of headers.authorization). */
  tokens?: readonly string[];
}

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx/3xx answers plus socket errors and timeouts: a fast 401 must not pass as throughput. */
  errors: number;
}

const execFileAsync = promisify(execFile);
/** Like execFile, but the child is stopped if the bench exits before it does. */
function run(
  cmd: string,
  args: string[],
  opts: { timeout: number },
  cleanup?: () => void,
): Promise<{ stdout: string }> {
  const p = execFileAsync(cmd, args, { ...opts, encoding: "utf8" });
  track(p.child, cleanup);
  return p;
}

// wrk's own summary rounds and mixes units; a done() hook prints exact counts in microseconds.
const WRK_REPORT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status + e.connect + e.read + e.write + e.timeout))
end
`;

// Each request with the next token from a file, one per line, round and round.
const WRK_TOKENS = (file: string) => `
local tokens = {}
for line in io.lines("${file}") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  wrk.headers["Authorization"] = "Bearer " .. tokens[i]
  return wrk.format()
end
`;

async function wrk(wrkPath: string, url: string, seconds: number, o: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "fairgate-bench-wrk-"));
  try {
    const script = join(dir, "report.lua");
    let lua = WRK_REPORT;
    let headers = o.headers;
    if (o.tokens) {
      writeFileSync(join(dir, "tokens"), `${o.tokens.join("\n")}\n`);
      lua += WRK_TOKENS(join(dir, "tokens"));
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== "authorization"));
    }
    writeFileSync(script, lua);
    const headerArgs = Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
    const { stdout } = await run(
      wrkPath,
      [
        "-t",
        String(o.threads),
        "-c",
        String(o.connections),
        "-d",
        `${seconds}s`,
        "--latency",
        "--timeout",
        "5s",
        "-s",
        script,
        ...headerArgs,
        url,
      ],
      { timeout: (seconds + 15) * 1000 },
      () => rmSync(dir, { recursive: true, force: true }),
    );
    const m = /WRK_RESULT (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(stdout);
    if (!m) throw new Error(`unexpected wrk output:\n${stdout}`);
    const [requests, durationUs, p50Us, p99Us, errors] = m.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
    ];
    return { rps: requests / (durationUs / 1e6), p50Ms: p50Us / 1000, p99Ms: p99Us / 1000, requests, errors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The fallback generator runs in its own process, like wrk, so it never shares an event loop with the edge. */
async function nodeLoad(url: string, seconds: number, o: LoadOptions): Promise<LoadResult> {
  const worker = fileURLToPath(new URL("./load-worker.ts", import.meta.url));
  const args = JSON.stringify({ url, seconds, connections: o.connections, headers: o.headers });
  const { stdout } = await run(process.execPath, ["--import", "tsx", worker, args], { timeout: (seconds + 15) * 1000 });
  return JSON.parse(stdout) as LoadResult;
}

export type LoadTool = { name: "wrk"; path: string } | { name: "node" };

/** Warm up (discarded), then measure, against one URL. */
export async function measure(tool: LoadTool, url: string, o: LoadOptions): Promise<LoadResult> {
  if (o.tokens && tool.name !== "wrk") throw new Error("a new token per request needs wrk");
  const once = (seconds: number) => (tool.name === "wrk" ? wrk(tool.path, url, seconds, o) : nodeLoad(url, seconds, o));
  if (o.warmupSeconds > 0) await once(o.warmupSeconds);
  return once(o.seconds);
}
