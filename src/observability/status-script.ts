import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type * as esbuild from "esbuild";

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

/** Bundles the client with esbuild (a development dependency: only the build and the sources call this). */
export function bundleStatusClient(entry = CLIENT_ENTRY): string {
  let build: typeof esbuild.buildSync;
  try {
    build = (createRequire(import.meta.url)("esbuild") as typeof esbuild).buildSync;
  } catch (e) {
    throw new Error(
      `the status page's script is not built (${BUILT_SCRIPT} is missing) and esbuild is not installed to build ` +
        `it: run npm run build in a checkout with its development dependencies (${String(e)})`,
    );
  }
  const out = build({
    entryPoints: [entry],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
    legalComments: "none",
  });
  return out.outputFiles[0]!.text;
}

let script: string | undefined;

/** The script the page inlines (its hash is in the page's Content-Security-Policy). */
export function statusScript(): string {
  script ??= existsSync(BUILT_SCRIPT) ? readFileSync(BUILT_SCRIPT, "utf8") : bundleStatusClient();
  return script;
}
