// runtime_config: the per-tenant sections of the config (tenant rules and their label policies, limits, and whatever
// is added inside them) read again from a file on SIGHUP and every `period`, without a restart, as Loki's and
// Mimir's runtime config. Every process reloads its own file (each worker of server.workers, each replica).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Gauge, Registry } from "prom-client";
import type pino from "pino";
import { ConfigError } from "../config/load.js";
import { appliedSections, parseRuntimeText, withOverrides } from "../config/runtime.js";
import type { Config } from "../config/schema.js";

/** What /status and /debug/runtime-config tell about the runtime file. */
export interface RuntimeConfigStatus {
  file: string;
  /** Whether the last reload was taken; when not, `error` says why and the config before it stays in force. */
  lastReloadSuccessful: boolean;
  error: string | null;
  /** SHA-256 of the file in force. */
  sha256: string;
  /** The sections it replaces, e.g. edge.tenants. */
  sections: string[];
  loadedAt: string;
  lastAttemptAt: string;
}

export interface Read {
  config: Config;
  text: string;
  sections: string[];
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * The config in force: the start-up config with the runtime file's sections in place. A request takes `current`
 * once when it starts and keeps that object: a reload swaps in a new one and never changes one in use.
 */
export class RuntimeConfig {
  readonly registry = new Registry();
  #current: Config;
  #status: RuntimeConfigStatus;
  #lastText: string | undefined;
  #timer?: NodeJS.Timeout;
  // Workers' values are added up by the primary's /metrics: min says whether any of them refused its file.
  readonly #successful = new Gauge({
    name: "fairgate_runtime_config_last_reload_successful",
    help: "1 if the last reload of the runtime file (runtime_config) was taken, 0 if it was refused.",
    registers: [this.registry],
    aggregator: "min",
  });
  readonly #hash = new Gauge({
    name: "fairgate_runtime_config_hash",
    help: "1 for the SHA-256 of the runtime file in force.",
    labelNames: ["sha256"],
    registers: [this.registry],
    aggregator: "max",
  });
  readonly #loadedAt = new Gauge({
    name: "fairgate_runtime_config_last_reload_success_timestamp_seconds",
    help: "When the runtime file in force was taken (Unix seconds).",
    registers: [this.registry],
    aggregator: "min",
  });

  /** Reads the file now: at start a bad one is an error (ConfigError), as a bad config is. */
  constructor(
    readonly base: Config,
    readonly logger: pino.Logger,
    readonly env: Record<string, string | undefined> = process.env,
  ) {
    const file = base.runtime_config!.file;
    const { config, text, sections } = checkRuntimeFile(base, env);
    const now = new Date().toISOString();
    this.#current = config;
    this.#lastText = text;
    this.#status = {
      file,
      lastReloadSuccessful: true,
      error: null,
      sha256: sha256(text),
      sections,
      loadedAt: now,
      lastAttemptAt: now,
    };
    this.#taken();
    const period = base.runtime_config!.period;
    if (period > 0) this.#timer = setInterval(() => this.reload("period"), period).unref();
  }

  get current(): Config {
    return this.#current;
  }

  status(): RuntimeConfigStatus {
    return { ...this.#status };
  }

  /**
   * Reads the file again. Taken, it is the config for requests that start from now on; refused, the config in force
   * stays and the log, the metrics and the status say why. The period reloads only a file whose text changed (a
   * refused file is reported once); SIGHUP always reloads.
   */
  reload(why: "SIGHUP" | "period"): { ok: boolean; line: string } {
    const file = this.#status.file;
    this.#status.lastAttemptAt = new Date().toISOString();
    let read: Read;
    try {
      const text = readText(file);
      if (why === "period" && text === this.#lastText) return { ok: true, line: "unchanged" };
      this.#lastText = text;
      read = this.#read(text);
    } catch (e) {
      const error = e instanceof ConfigError ? e.problems.join("; ") : (e as Error).message;
      this.#status = { ...this.#status, lastReloadSuccessful: false, error };
      this.#successful.set(0);
      this.logger.error(
        { runtime_config: file, reason: why, error, sha256_in_force: this.#status.sha256 },
        "runtime config refused: the one in force stays",
      );
      return { ok: false, line: `runtime config ${file} refused (${error}); the one in force stays` };
    }
    this.#current = read.config;
    const now = new Date().toISOString();
    this.#status = {
      ...this.#status,
      lastReloadSuccessful: true,
      error: null,
      sha256: sha256(read.text),
      sections: read.sections,
      loadedAt: now,
    };
    this.#taken();
    this.logger.info(
      { runtime_config: file, reason: why, sha256: this.#status.sha256, sections: read.sections },
      "runtime config reloaded",
    );
    return { ok: true, line: `reloaded runtime config ${file} (${read.sections.join(", ") || "no sections"})` };
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #read(text: string): Read {
    const overrides = parseRuntimeText(text, this.env);
    return { config: withOverrides(this.base, overrides), text, sections: appliedSections(this.base, overrides) };
  }

  #taken(): void {
    this.#successful.set(1);
    this.#hash.reset();
    this.#hash.set({ sha256: this.#status.sha256 }, 1);
    this.#loadedAt.set(Date.parse(this.#status.loadedAt) / 1000);
  }
}

/** The config with the runtime file's sections in place, or a ConfigError naming the file (start-up, check-config). */
export function checkRuntimeFile(base: Config, env: Record<string, string | undefined>): Read {
  const file = base.runtime_config!.file;
  const text = readText(file);
  try {
    const overrides = parseRuntimeText(text, env);
    return { config: withOverrides(base, overrides), text, sections: appliedSections(base, overrides) };
  } catch (e) {
    throw e instanceof ConfigError ? new ConfigError(e.problems.map((p) => `${file}: ${p}`)) : e;
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError([
      `cannot read runtime_config.file ${file}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`,
    ]);
  }
}
