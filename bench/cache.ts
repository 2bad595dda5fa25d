// The results cache with a real memcached, on the 7-day dashboard query of bench/split.ts against a
// real Prometheus: latency cold (empty cache), warm (the same query again) and partial (the range
// moved forward by 5 minutes: only the new tail is asked), and the bytes one query's entries take
// raw, with raw deflate (what the cache stores), gzip and brotli. Then the cache ring over several
// memcached servers (bench/lib/ring.ts): keys moved when one joins or leaves, and get/set throughput
// through a ring of three against one. Run: npx tsx bench/cache.ts
// Env: BENCH_RUNS (default 5).
import { performance } from "node:perf_hooks";
import * as zlib from "node:zlib";
import { parseConfig } from "../src/config/load.js";
import { createFrontend } from "../src/frontend/app.js";
import { buildCache } from "../src/frontend/cache/build.js";
import type { Cache } from "../src/frontend/cache/cache.js";
import { startMemcached } from "../test/support/memcached.js";
import { printRing, ringFigures } from "./lib/ring.js";
import { startPrometheus } from "../test/support/prometheus.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const QUERY = process.env.BENCH_QUERY ?? "sum by (job, code) (rate(http_requests_total[5m]))";
const STEP = 60;
const identity = { subject: "bench", tenants: ["bench"], actorPath: "users|bench", scopes: [] };
const DEADLINE = Date.now() + 85_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The cache the frontend uses, recording the values it writes (compressed, as StoredValues made them). */
class Recording implements Cache {
  writes: Uint8Array[] = [];
  constructor(readonly inner: Cache) {}
  get = (key: string) => this.inner.get(key);
  set = (key: string, value: Uint8Array, ttl: number) => (this.writes.push(value), this.inner.set(key, value, ttl));
  delete = (key: string) => this.inner.delete(key);
  close = () => this.inner.close();
}

async function time<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { ms: performance.now() - t0, value };
}

/** Size, compression and decompression time (median of runs) of each codec over the given values. */
function codecs(entries: Buffer[]) {
  const brotli = (quality: number) => ({
    c: (b: Buffer) =>
      zlib.brotliCompressSync(b, {
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: quality, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length },
      }),
    d: (b: Buffer) => zlib.brotliDecompressSync(b),
  });
  const all: Record<string, { c: (b: Buffer) => Buffer; d: (b: Buffer) => Buffer }> = {
    none: { c: (b) => b, d: (b) => b },
    "deflateRaw-1": { c: (b) => zlib.deflateRawSync(b, { level: 1 }), d: (b) => zlib.inflateRawSync(b) },
    "deflateRaw-6": { c: (b) => zlib.deflateRawSync(b), d: (b) => zlib.inflateRawSync(b) },
    "deflateRaw-9": { c: (b) => zlib.deflateRawSync(b, { level: 9 }), d: (b) => zlib.inflateRawSync(b) },
    "gzip-6": { c: (b) => zlib.gzipSync(b), d: (b) => zlib.gunzipSync(b) },
    "brotli-4 (stored)": brotli(4),
    "brotli-6": brotli(6),
    "brotli-11": brotli(11),
  };
  const out: Record<string, { bytes: number; compress_ms: number; decompress_ms: number }> = {};
  for (const [name, { c, d }] of Object.entries(all)) {
    const cms: number[] = [];
    const dms: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 3; i++) {
      let t = performance.now();
      const packed = entries.map(c);
      cms.push(performance.now() - t);
      t = performance.now();
      for (const p of packed) d(p);
      dms.push(performance.now() - t);
      bytes = packed.reduce((n, p) => n + p.length, 0);
    }
    out[name] = { bytes, compress_ms: median(cms), decompress_ms: median(dms) };
  }
  return out;
}

async function main(): Promise<void> {
  const [prom, mc, ...moreMemcached] = await Promise.all([
    startPrometheus({ days: 7 }),
    startMemcached(),
    startMemcached(),
    startMemcached(),
  ]);
  const config = parseConfig({
    frontend: {
      queriers: [{ url: prom.url, max_concurrent: 4 }],
      limits: { split_metric_queries_by_interval: "24h" },
      cache: { backend: "memcached", memcached: { servers: [mc.address] } },
    },
  }).frontend!;
  const cache = new Recording(buildCache(config.cache, {}));
  // Cold and warm over [start, end − 5 min]; partial over the range 5 minutes later. "now" keeps the
  // whole range older than max_cache_freshness, and moves with the range.
  const start = prom.start;
  const end = prom.end - 300;
  let now = (end + 3600) * 1000;
  const frontend = createFrontend(config, { cache, now: () => now });
  // The same frontend without the results cache: what a miss costs over no cache at all.
  const uncachedFrontend = createFrontend({
    ...config,
    cache: { ...config.cache, results: { ...config.cache.results, enabled: false } },
  });
  try {
    const form = (s: number, e: number) =>
      new URLSearchParams({ query: QUERY, start: String(s), end: String(e), step: String(STEP) }).toString();
    const post = (body: string) => ({
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    const through = async (s: number, e: number, f = frontend) => {
      const res = await f.app.fetch(new Request("http://frontend/api/v1/query_range", post(form(s, e))), { identity });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`frontend: ${res.status} ${text}`);
      return { outcome: res.headers.get("x-fairgate-cache"), text };
    };
    const direct = async (s: number, e: number) => {
      const res = await fetch(`${prom.url}/api/v1/query_range`, post(form(s, e)));
      const text = await res.text();
      if (res.status !== 200) throw new Error(`direct: ${res.status} ${text}`);
      return text;
    };
    const expectOutcome = (got: string | null, want: string) => {
      if (got !== want) throw new Error(`expected x-fairgate-cache: ${want}, got ${got}`);
    };

    // Correctness first: every path answers as Prometheus does.
    await mc.flushAll();
    const cold0 = await through(start, end);
    const want = JSON.stringify(JSON.parse(await direct(start, end)));
    if (JSON.stringify(JSON.parse(cold0.text)) !== want) throw new Error("cold answer differs from Prometheus");
    const warm0 = await through(start, end);
    expectOutcome(warm0.outcome, "hit");
    if (JSON.stringify(JSON.parse(warm0.text)) !== want) throw new Error("warm answer differs from Prometheus");

    // The entries one query stores: what the compression comparison runs on.
    await mc.flushAll();
    cache.writes = [];
    await through(start, end);
    const stored = cache.writes.map((w) => Buffer.from(w));
    // Byte 0 says how an entry is stored (src/frontend/cache/stored.ts: 3 = inline, brotli).
    if (stored.some((w) => w[0] !== 3)) throw new Error("expected inline entries (no chunk manifests) for this query");
    const entries = stored.map((w) => zlib.brotliDecompressSync(w.subarray(1)));

    const d: number[] = [];
    const uncached: number[] = [];
    const cold: number[] = [];
    const warm: number[] = [];
    const partial: number[] = [];
    for (let i = 0; i < RUNS && Date.now() < DEADLINE; i++) {
      d.push((await time(() => direct(start, end))).ms);
      uncached.push((await time(() => through(start, end, uncachedFrontend))).ms);
      await mc.flushAll();
      now = (end + 3600) * 1000;
      const c = await time(() => through(start, end));
      expectOutcome(c.value.outcome, "miss");
      cold.push(c.ms);
      const w = await time(() => through(start, end));
      expectOutcome(w.value.outcome, "hit");
      warm.push(w.ms);
      now += 300_000;
      const p = await time(() => through(start + 300, end + 300));
      expectOutcome(p.value.outcome, "partial");
      partial.push(p.ms);
    }
    const p0 = await through(start + 300, end + 300);
    if (JSON.stringify(JSON.parse(p0.text)) !== JSON.stringify(JSON.parse(await direct(start + 300, end + 300))))
      throw new Error("partial answer differs from Prometheus");

    const sizes = codecs(entries);
    const ring = await ringFigures([mc, ...moreMemcached].map((m) => m.address));
    const json = sizes.none!.bytes;
    const figures = {
      query: QUERY,
      range: "7d",
      step: `${STEP}s`,
      runs: cold.length,
      direct_ms: median(d),
      uncached_ms: median(uncached),
      cold_ms: median(cold),
      warm_ms: median(warm),
      partial_ms: median(partial),
      warm_over_cold: median(warm) / median(cold),
      partial_over_cold: median(partial) / median(cold),
      warm_target_met: median(warm) / median(cold) <= 0.012,
      entries: entries.length,
      response_bytes: cold0.text.length,
      stored_bytes: stored.reduce((n, w) => n + w.length, 0),
      codecs: sizes,
      ring,
    };
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    console.log(`7-day query, step ${STEP}s, ${figures.runs} runs each (median): ${QUERY}`);
    console.log(`  direct to Prometheus            ${figures.direct_ms.toFixed(1).padStart(8)} ms`);
    console.log(`  frontend, results cache off     ${figures.uncached_ms.toFixed(1).padStart(8)} ms`);
    console.log(`  cold (empty memcached)          ${figures.cold_ms.toFixed(1).padStart(8)} ms`);
    console.log(
      `  warm (same query)               ${figures.warm_ms.toFixed(1).padStart(8)} ms   ` +
        `${pct(figures.warm_over_cold)} of cold (target ≤ 1.2%: ${figures.warm_target_met ? "met" : "NOT met"})`,
    );
    console.log(
      `  partial (range + 5 min)         ${figures.partial_ms.toFixed(1).padStart(8)} ms   ` +
        `${pct(figures.partial_over_cold)} of cold`,
    );
    console.log(
      `Bytes one query stores (${entries.length} entries; the answer itself is ${figures.response_bytes} bytes of ` +
        `JSON):`,
    );
    for (const [name, s] of Object.entries(sizes))
      console.log(
        `  ${name.padEnd(22)} ${String(s.bytes).padStart(9)} B  ${pct(s.bytes / json).padStart(6)}  compress ` +
          `${s.compress_ms.toFixed(1).padStart(6)} ms  decompress ${s.decompress_ms.toFixed(1).padStart(5)} ms`,
      );
    const smallest = Object.entries(sizes).sort((a, b) => a[1].bytes - b[1].bytes)[0]!;
    const fastest = Object.entries(sizes)
      .filter(([n]) => n !== "none")
      .sort((a, b) => a[1].compress_ms + a[1].decompress_ms - (b[1].compress_ms + b[1].decompress_ms))[0]!;
    console.log(
      `  smallest: ${smallest[0]}; fastest round trip: ${fastest[0]}; stored now: brotli-4, ${figures.stored_bytes} ` +
        `B with the marker bytes`,
    );
    printRing(ring);
    console.log(
      `BENCH_JSON ${JSON.stringify({ bench: "cache", ...figures, smallest: smallest[0], fastest: fastest[0] })}`,
    );
  } finally {
    frontend.close();
    uncachedFrontend.close();
    await Promise.all([prom.close(), mc.close(), ...moreMemcached.map((m) => m.close())]);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
