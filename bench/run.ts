// npm run bench: every benchmark in bench/, one after another (they share two cores; running them
// together would measure each other), then one table of the figures they reported.
// Each prints a `BENCH_JSON {...}` line; numbers are flattened into "bench.path = value" rows.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const only = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.replace(/\.ts$/, ""))
  .filter((b) => only.length === 0 || only.includes(b));

function flatten(prefix: string, v: unknown, out: [string, string][]): void {
  if (typeof v === "number") out.push([prefix, Number.isInteger(v) ? String(v) : v.toFixed(3)]);
  else if (typeof v === "boolean" || typeof v === "string") out.push([prefix, String(v)]);
  else if (v && typeof v === "object" && !Array.isArray(v))
    for (const [k, x] of Object.entries(v)) flatten(prefix ? `${prefix}.${k}` : k, x, out);
}

const rows: [string, string][] = [];
let failed = 0;
for (const b of benches) {
  console.log(`\n=== bench/${b}.ts ===`);
  const t = Date.now();
  const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", `${dir}${b}.ts`], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 240_000,
  });
  process.stdout.write(r.stdout ?? "");
  const line = (r.stdout ?? "").split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (r.status !== 0 || !line) {
    failed++;
    rows.push([`${b}`, `FAILED (exit ${r.status ?? r.signal})`]);
    continue;
  }
  flatten(b, JSON.parse(line.slice("BENCH_JSON ".length)), rows);
  rows.push([`${b}.seconds`, ((Date.now() - t) / 1000).toFixed(1)]);
}

const width = Math.max(...rows.map(([k]) => k.length));
console.log("\n=== figures ===");
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
process.exit(failed ? 1 : 0);
