#!/usr/bin/env node
// Runs the compiled CLI (dist/, written by `npm run build`) in this very process, so signals such as
// SIGTERM reach fairgate itself and it can drain. Tests run the TypeScript sources instead.
import { existsSync } from "node:fs";

const main = new URL("../dist/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("fairgate: dist/ is missing: run `npm run build` (npm install runs it too) first\n");
  process.exit(2);
}
process.setSourceMapsEnabled(true);
await import(main.href);
