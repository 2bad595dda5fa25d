import { accessSync, constants } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * A real binary from ../shared beside the repository (CI always has it), or from an environment variable. A fresh
 * clone without either skips the suites that need it, saying which and how to run them; in CI (CI=true) a missing
 * binary is an error.
 */
export interface SharedBinary {
  /** "Loki", "Mimir": for messages. */
  product: string;
  /** The variable that points at it elsewhere: LOKI_BIN. */
  envVar: string;
  /** Its path under ../shared: "loki/loki-3.4.6-linux-amd64". */
  sharedPath: string;
  /** Where a person gets it: "get loki-linux-amd64.zip from https://… and unzip it". */
  get: string;
  /** The file's name as released, for the command line shown. */
  released: string;
}

const sharedFile = (path: string) => fileURLToPath(new URL(`../../../shared/${path}`, import.meta.url));

/** The binary to run, if there is one (the environment variable first). */
export function findShared(b: SharedBinary): string | undefined {
  const bin = process.env[b.envVar] || sharedFile(b.sharedPath);
  try {
    accessSync(bin, constants.X_OK);
    return bin;
  } catch {
    return undefined;
  }
}

/** The binary, or undefined after a plain warning that `suite` is skipped and how to run it; throws in CI. */
export function sharedOrSkip(b: SharedBinary, suite: string): string | undefined {
  const bin = findShared(b);
  if (bin) return bin;
  const set = process.env[b.envVar];
  const where = set ? `${b.envVar}=${set} is not executable` : `no ${sharedFile(b.sharedPath)}`;
  // The test file that asked, read off the call stack, so the message names what to run.
  const file = /(test\/[\w/.-]+\.test\.ts)/.exec(new Error().stack ?? "")?.[1] ?? "";
  const how = `${b.get}, then run ${b.envVar}=/path/to/${b.released} npx vitest run ${file}`;
  if (process.env.CI === "true")
    throw new Error(`${suite}: needs a real ${b.product}, and CI must have it (${where}); ${how}`);
  console.warn(`SKIPPED ${suite}: no real ${b.product} (${where}); ${how}`);
  return undefined;
}
