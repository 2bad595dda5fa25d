import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/**
 * The chart library (uPlot, a runtime dependency) as the admin listener serves it: read from the
 * installed package once, so the page works offline and the same way from src/ and from dist/.
 */
export interface StatusAsset {
  body: string;
  headers: Record<string, string>;
}

const require = createRequire(import.meta.url);

function asset(file: string, type: string): StatusAsset {
  return {
    body: readFileSync(require.resolve(`uplot/dist/${file}`), "utf8"),
    headers: {
      "content-type": `${type}; charset=utf-8`,
      "cache-control": "public, max-age=3600",
      "x-content-type-options": "nosniff",
    },
  };
}

let loaded: Record<string, StatusAsset> | undefined;

/** The files under /status/assets/ by name. */
export function statusAssets(): Record<string, StatusAsset> {
  loaded ??= {
    "uplot.js": asset("uPlot.iife.min.js", "text/javascript"),
    "uplot.css": asset("uPlot.min.css", "text/css"),
  };
  return loaded;
}

/** This fairgate's version, from its package.json (two levels up from src/observability/ and dist/observability/). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string })
    .version;
}
