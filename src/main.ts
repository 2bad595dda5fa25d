import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, type Loaded, loadConfigText } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { ActorPaths } from "./edge/actor.js";
import { type Mode, run } from "./node/run.js";
import { ListenError } from "./node/server.js";
import { packageVersion as version } from "./observability/status-assets.js";
import { stopOnSignals } from "./node/signals.js";
import { closest } from "./node/suggest.js";
import cluster from "node:cluster";
import { runPrimary, runWorker, WorkerStartError } from "./node/process-workers.js";
import { checkRuntimeFile } from "./node/runtime-config.js";

const HELP = `fairgate — fair queueing and tenant enforcement in front of Loki and Mimir

Usage:
  fairgate [all|edge|frontend] --config FILE   run (default: all = edge and frontend in one process)
  fairgate check-config [--config] FILE        validate a config (and its runtime_config file), list every problem
  fairgate actor-hash --config FILE --issuer ISS --subject SUB [--client ID]
                                               the actor path (X-Loki-Actor-Path) this user's queries get
  fairgate help | --help | --version

Signals: SIGTERM or SIGINT drains in-flight requests, then exits 0 (another one later: at once);
SIGHUP reads server.tls's certificate and key, and runtime_config's file, again.
Environment: \${NAME} in the config expands from the environment (\${NAME:-default} for a default).
`;

/** The config in `file`, and a warning for each deprecated key in it. */
function loadConfigFile(file: string): Loaded {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError([
      `cannot read config file ${file}: ` +
        `${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    ]);
  }
  return loadConfigText(text, process.env);
}

/** The config, with its deprecation warnings logged once (by the primary of server.workers, not each worker). */
function loadConfig(file: string): Config {
  const { config, warnings } = loadConfigFile(file);
  if (!cluster.isWorker) for (const w of warnings) process.stderr.write(`fairgate: warning: ${w}\n`);
  return config;
}

function fail(message: string): never {
  process.stderr.write(`fairgate: ${message}\n`);
  process.exit(2);
}

const OPTIONS = {
  config: { type: "string" },
  issuer: { type: "string" },
  subject: { type: "string" },
  client: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

type Options = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (e) {
    fail(`${(e as Error).message} (see fairgate --help)`);
  }
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  if (values.help) return void process.stdout.write(HELP);
  if (values.version) return void process.stdout.write(`fairgate ${version()}\n`);
  const [command = "all", ...rest] = positionals;
  if (command === "help") return void process.stdout.write(HELP);
  if (!(COMMANDS as readonly string[]).includes(command)) fail(unknownCommand(command));
  if (command === "check-config") return checkConfig(values, rest);
  if (rest.length) fail(`unexpected argument ${rest[0]} (see fairgate --help)`);
  if (command === "actor-hash") return actorHash(values);
  return serve(command as Mode, values);
}

const COMMANDS = ["all", "edge", "frontend", "check-config", "actor-hash", "help"] as const;

function unknownCommand(command: string): string {
  const meant = closest(command, COMMANDS);
  if (meant) return `unknown command ${command}: did you mean ${meant}? (see fairgate --help)`;
  return `unknown command ${command} (commands: ${COMMANDS.join(", ")}; see fairgate --help)`;
}

/** `check-config FILE` or `check-config --config FILE`, as the file is given to run. */
function checkConfig(values: Options, rest: string[]): void {
  const files = [...(values.config ? [values.config] : []), ...rest];
  if (files.length !== 1) fail("check-config needs one FILE (check-config FILE or check-config --config FILE)");
  const { config, warnings } = loadConfigFile(files[0]!);
  process.stdout.write(`${files[0]}: ok${warnings.length ? `, ${warnings.length} deprecated` : ""}\n`);
  for (const w of warnings) process.stdout.write(`  warning: ${w}\n`);
  if (!config.runtime_config) return;
  const { sections } = checkRuntimeFile(config, process.env);
  process.stdout.write(`${config.runtime_config.file}: ok (${sections.join(", ") || "no sections"})\n`);
}

const required = (values: Options, name: keyof typeof OPTIONS): string =>
  (values[name] as string | undefined) ?? fail(`--${name} is required (see fairgate --help)`);

/**
 * The actor path a user's queries get, so an operator can tell whose hash floods the queue. It takes
 * the config's actor secret: without it, a hash reveals nothing.
 */
async function actorHash(values: Options): Promise<void> {
  const config = loadConfig(required(values, "config"));
  if (!config.edge) fail("actor-hash needs the config's edge section (edge.actor.secret)");
  const [issuer, subject, clientId] = [required(values, "issuer"), required(values, "subject"), values.client];
  const user = { issuer, subject, clientId, service: clientId === subject, groups: [], scopes: [], claims: {} };
  const path = await new ActorPaths(config.edge.actor).pathFor({ ...user, expiresAt: Number.POSITIVE_INFINITY });
  process.stdout.write(`${path}\n`);
}

async function serve(mode: Mode, values: Options): Promise<void> {
  const config = loadConfig(required(values, "config"));
  if (config.server.workers > 1) {
    if (cluster.isWorker) return runWorker(config, mode);
    const primary = await runPrimary(config, mode);
    const admin = primary.adminUrl ? `, admin on ${primary.adminUrl} (/metrics of all workers)` : "";
    process.stdout.write(
      `fairgate ${version()} (${mode}) listening on ${primary.url} with ${primary.workers} workers${admin}\n`,
    );
    return;
  }
  const running = await run(config, mode);
  // Signal handlers first: whoever reads "listening" may stop us at once, and must get a drain.
  stopOnSignals(running);
  const admin = running.adminUrl ? `, admin on ${running.adminUrl} (/status, /metrics, /debug/queue)` : "";
  process.stdout.write(`fairgate ${version()} (${mode}) listening on ${running.url}${admin}\n`);
  if (config.demo.enabled) printDemo(running.url);
}

function printDemo(url: string): void {
  process.stdout.write(`
DEMO MODE (demo.enabled: true) — a built-in development issuer hands out tokens to anybody.
Try:
  TOKEN=$(curl -s ${url}/demo/oidc/token?user=alice)
  curl -s -H "Authorization: Bearer $TOKEN" '${url}/loki/api/v1/query?query=vector(1)'
  # 403: alice is not in team-b
  curl -s -H "Authorization: Bearer $TOKEN" -H 'X-Scope-OrgID: team-b' '${url}/loki/api/v1/query?query=vector(1)'
  # 401: no token
  curl -si '${url}/api/v1/query?query=up'
Demo users: alice (team-a), bob (team-b), carol (team-a, team-b, federated queries), svc-ingest (writes team-a).
The status page is on the admin listener: /status. README.md, "See it work", shows fairness and the cache.
`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof WorkerStartError) process.exit(e.code); // the worker said why
  if (e instanceof ConfigError || e instanceof ListenError) fail(e.message);
  fail(e instanceof Error ? (e.stack ?? e.message) : String(e));
});
