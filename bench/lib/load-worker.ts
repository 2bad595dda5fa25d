// Fallback load generator when wrk is absent: N keep-alive connections, each sending its next
// request as soon as the last answer is read (closed loop, like wrk). Prints one JSON LoadResult.
import { Agent, request } from "node:http";

const { url, seconds, connections, headers } = JSON.parse(process.argv[2]!) as {
  url: string;
  seconds: number;
  connections: number;
  headers: Record<string, string>;
};

const agent = new Agent({ keepAlive: true, maxSockets: connections });
const latenciesUs: number[] = [];
let errors = 0;
const start = performance.now();
const end = start + seconds * 1000;

function once(): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request(url, { agent, headers }, (res) => {
      res.resume();
      res.on("end", () => {
        if (res.statusCode! >= 400) errors++;
        latenciesUs.push((performance.now() - t0) * 1000);
        resolve();
      });
    });
    req.on("error", () => (errors++, resolve()));
    req.end();
  });
}

async function connection(): Promise<void> {
  while (performance.now() < end) await once();
}

await Promise.all(Array.from({ length: connections }, connection));
const elapsed = (performance.now() - start) / 1000;
latenciesUs.sort((a, b) => a - b);
const pct = (p: number) =>
  (latenciesUs[Math.min(latenciesUs.length - 1, Math.floor((p / 100) * latenciesUs.length))] ?? 0) / 1000;
agent.destroy();
process.stdout.write(
  JSON.stringify({
    rps: latenciesUs.length / elapsed,
    p50Ms: pct(50),
    p99Ms: pct(99),
    requests: latenciesUs.length,
    errors,
  }),
);
