import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { ConfigError, parseConfigText } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { type Mode, type Running, run } from "./node/run.js";
import { ListenError } from "./node/server.js";

const HELP = `fairgate — fair queueing and tenant enforcement in front of Loki and Mimir

Usage:
  fairgate [all|edge|frontend] --config FILE   run (default: all = edge and frontend in one process)
  fairgate check-config FILE                   validate a config and list every problem
  fairgate --help | --version

Environment: \${NAME} in the config expands from the environment (\${NAME:-default} for a default).
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError([
      `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    ]);
  }
  return parseConfigText(text, process.env);
}

function fail(message: string): never {
  process.stderr.write(`fairgate: ${message}\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) return void process.stdout.write(HELP);
  if (argv.includes("--version")) return void process.stdout.write(`fairgate ${version()}\n`);

  if (argv[0] === "check-config") {
    if (!argv[1]) fail("check-config needs a FILE");
    loadConfig(argv[1]);
    process.stdout.write(`${argv[1]}: ok\n`);
    return;
  }

  const args = [...argv];
  const mode = (["all", "edge", "frontend"].includes(args[0] ?? "") ? args.shift() : "all") as Mode;
  const i = args.indexOf("--config");
  const file = i >= 0 ? args[i + 1] : undefined;
  if (!file) fail("--config FILE is required (see fairgate --help)");
  const rest = args.filter((_, j) => j !== i && j !== i + 1);
  if (rest.length) fail(`unexpected argument ${rest[0]} (see fairgate --help)`);

  const config = loadConfig(file);
  const running = await run(config, mode);
  // Signal handlers first: whoever reads "listening" may stop us at once, and must get a drain.
  stopOnSignals(running);
  process.stdout.write(
    `fairgate ${version()} (${mode}) listening on ${running.url}${running.adminUrl ? `, admin on ${running.adminUrl} (/status, /metrics, /debug/queue)` : ""}\n`,
  );
  if (config.demo.enabled) printDemo(running.url);
}

/** How long in-flight requests may take to finish after SIGTERM or SIGINT. */
const DRAIN_MS = 10_000;
/**
 * A signal this soon after the first is the same request delivered twice: Ctrl-C in a terminal
 * reaches both npm and fairgate, and npm forwards it to fairgate as well.
 */
const SAME_SIGNAL_MS = 1000;

/** SIGTERM or SIGINT: drain, then exit 0. Another one later: exit at once. */
function stopOnSignals(running: Running): void {
  let firstAt: number | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (firstAt === undefined) {
      firstAt = Date.now();
      process.stdout.write(`fairgate: ${signal}: draining (another signal stops at once)\n`);
      void running.close(DRAIN_MS).then(() => process.exit(0));
    } else if (Date.now() - firstAt >= SAME_SIGNAL_MS) {
      process.stdout.write(`fairgate: ${signal} again: stopping now\n`);
      process.exit(128 + constants.signals[signal]);
    }
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // SIGHUP: renewed TLS certificate and key for new connections; a bad file keeps the ones in use.
  process.on("SIGHUP", () => {
    try {
      process.stdout.write(`fairgate: SIGHUP: ${running.reloadTls()}\n`);
    } catch (e) {
      process.stderr.write(`fairgate: SIGHUP: ${(e as Error).message}; still serving the previous certificate\n`);
    }
  });
}

function printDemo(url: string): void {
  process.stdout.write(`
DEMO MODE (demo.enabled: true) — a built-in development issuer hands out tokens to anybody.
Try:
  TOKEN=$(curl -s ${url}/demo/oidc/token?user=alice)
  curl -s -H "Authorization: Bearer $TOKEN" '${url}/loki/api/v1/query?query=vector(1)'
  curl -s -H "Authorization: Bearer $TOKEN" -H 'X-Scope-OrgID: team-b' '${url}/loki/api/v1/query?query=vector(1)'   # 403: alice is not in team-b
  curl -si '${url}/api/v1/query?query=up'                                                                          # 401: no token
Demo users: alice (team-a), bob (team-b), carol (team-a, team-b, federated queries), svc-ingest (writes team-a).
The status page is on the admin listener: /status. README.md, "See it work", shows fairness and the cache.
`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof ConfigError || e instanceof ListenError) fail(e.message);
  fail(e instanceof Error ? (e.stack ?? e.message) : String(e));
});
