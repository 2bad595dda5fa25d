import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The status page's client script: the TypeScript in status-client/, bundled into one browser script
 * (uPlot stays outside: the page loads it from /status/assets/). `npm run build` writes it beside
 * this module in dist/ (scripts/build-status-client.mjs), so the installed package needs no bundler;
 * run from the sources (tests, tsx), it is bundled here once, from what the sources are now.
 */

/** Where the build puts the bundle: beside the compiled status-script.js. */
export const BUILT_SCRIPT = fileURLToPath(new URL("./status-client.js", import.meta.url));
/** The client's entry in the sources (from src/observability/ or dist/observability/ alike). */
export const CLIENT_ENTRY = fileURLToPath(new URL("../../src/observability/status-client/main.ts", import.meta.url));

/**
 * Bundles the client with esbuild (a development dependency: only the build and the sources call this).
 * Its command line, not its API: the API keeps a service process running beside this one, which a stopped
 * fairgate would leave behind for a moment; the command is done when this returns.
 */
export function bundleStatusClient(entry = CLIENT_ENTRY): string {
  let esbuild: string;
  try {
    esbuild = join(dirname(createRequire(import.meta.url).resolve("esbuild/package.json")), "bin", "esbuild");
  } catch (e) {
    throw new Error(
      `the status page's script is not built (${BUILT_SCRIPT} is missing) and esbuild is not installed to build ` +
        `it: run npm run build in a checkout with its development dependencies (${String(e)})`,
    );
  }
  const options = ["--format=iife", "--platform=browser", "--target=es2022", "--legal-comments=none"];
  return execFileSync(esbuild, [entry, "--bundle", ...options, "--log-level=warning"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 16 * 1024 * 1024,
  });
}

let script: string | undefined;

/** The script the page inlines (its hash is in the page's Content-Security-Policy); read or bundled once. */
export function statusScript(): string {
  script ??= existsSync(BUILT_SCRIPT) ? readFileSync(BUILT_SCRIPT, "utf8") : bundleStatusClient();
  return script;
}
