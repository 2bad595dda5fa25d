import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Cache } from "../../../../src/frontend/cache/cache.js";
import {
  gaps,
  mergeExtents,
  sliceMatrix,
  type Extent,
  type MatrixBody,
} from "../../../../src/frontend/cache/extents.js";
import { MemcachedCache } from "../../../../src/frontend/cache/memcached.js";
import { MemoryCache } from "../../../../src/frontend/cache/memory.js";
import { hashKey, StoredValues } from "../../../../src/frontend/cache/stored.js";
import { freePort } from "../../../support/supervised.js";
import { rng } from "../../../support/rng.js";

const S = 1_000_000_000n;
const STEP = 60n * S;
const T0 = 1_795_046_400n * S; // 2026-11-19T00:00:00Z
const at = (k: number) => T0 + BigInt(k) * STEP;
const secs = (ns: bigint) => Number(ns / 1_000_000n) / 1000;

/** A matrix with the given series, sampled at steps [from, to] of the grid (value = series index·1000 + step). */
function matrix(from: number, to: number, names = ["a", "b"], extra: Partial<MatrixBody> = {}): MatrixBody {
  const result = names.map((name, i) => ({
    metric: { __name__: "m", s: name },
    values: Array.from({ length: to - from + 1 }, (_, k): [number, string] => [
      secs(at(from + k)),
      String(i * 1000 + from + k),
    ]),
  }));
  return { status: "success", data: { resultType: "matrix", result, stats: { summary: { execTime: 1 } } }, ...extra };
}
const extent = (from: number, to: number, names?: string[]): Extent => ({
  startNs: at(from),
  endNs: at(to),
  response: matrix(from, to, names),
});
const withoutStats = (b: MatrixBody): MatrixBody => ({
  ...b,
  data: { resultType: b.data.resultType, result: b.data.result },
});
const steps = (gs: { startNs: bigint; endNs: bigint }[]) =>
  gs.map((g) => [Number((g.startNs - T0) / STEP), Number((g.endNs - T0) / STEP)]);

describe("extents: gaps", () => {
  it("is the whole range with no extents, and nothing when one covers it", () => {
    expect(steps(gaps(at(0), at(10), STEP, []))).toEqual([[0, 10]]);
    expect(gaps(at(0), at(10), STEP, [extent(0, 10)])).toEqual([]);
    expect(gaps(at(2), at(8), STEP, [extent(0, 10)])).toEqual([]);
  });

  it("finds the head, the tail and the holes between extents, in any input order", () => {
    expect(steps(gaps(at(0), at(20), STEP, [extent(14, 16), extent(3, 5)]))).toEqual([
      [0, 2],
      [6, 13],
      [17, 20],
    ]);
  });

  it("leaves no gap between extents one step apart, and a one-point gap between extents two steps apart", () => {
    expect(gaps(at(0), at(10), STEP, [extent(0, 4), extent(5, 10)])).toEqual([]);
    expect(steps(gaps(at(0), at(10), STEP, [extent(0, 4), extent(6, 10)]))).toEqual([[5, 5]]);
  });

  it("ignores extents outside the range and overlapping ones", () => {
    expect(steps(gaps(at(10), at(20), STEP, [extent(0, 5), extent(25, 30), extent(12, 15), extent(13, 14)]))).toEqual([
      [10, 11],
      [16, 20],
    ]);
  });

  it("keeps gaps on the request's step grid", () => {
    const start = at(0) + 7n * S; // not on the minute
    const e: Extent = { startNs: start + 5n * STEP, endNs: start + 9n * STEP, response: matrix(0, 0) };
    const g = gaps(start, start + 20n * STEP, STEP, [e]);
    expect(g).toEqual([
      { startNs: start, endNs: start + 4n * STEP },
      { startNs: start + 10n * STEP, endNs: start + 20n * STEP },
    ]);
    for (const x of g) expect([(x.startNs - start) % STEP, (x.endNs - start) % STEP]).toEqual([0n, 0n]);
  });
});

describe("extents: sliceMatrix", () => {
  it("keeps the samples within [start, end] (both inclusive), drops emptied series and per-execution stats", () => {
    const body = matrix(0, 9, ["a", "b"], { warnings: ["w"] });
    body.data.result[1]!.values = body.data.result[1]!.values!.slice(0, 3); // b ends at step 2
    const cut = sliceMatrix(body, at(3), at(6));
    expect(cut.data.result.map((s) => [s.metric.s, s.values!.map((v) => v[1])])).toEqual([["a", ["3", "4", "5", "6"]]]);
    expect(cut.data.stats).toBeUndefined();
    expect(cut.warnings).toEqual(["w"]);
    expect(body.data.result[0]!.values).toHaveLength(10); // the input is left alone
  });

  it("compares millisecond timestamps exactly, and cuts native histograms too", () => {
    const body: MatrixBody = {
      status: "success",
      data: {
        resultType: "matrix",
        result: [
          {
            metric: { s: "h" },
            histograms: [
              [1_795_046_400.123, { count: "1" }],
              [1_795_046_400.124, { count: "2" }],
            ],
            values: [[1_795_046_400.122, "0"]],
          },
        ],
      },
    };
    const ms = (m: number) => T0 + BigInt(m) * 1_000_000n;
    const cut = sliceMatrix(body, ms(123), ms(123));
    expect(cut.data.result).toEqual([{ metric: { s: "h" }, histograms: [[1_795_046_400.123, { count: "1" }]] }]);
  });
});

describe("extents: mergeExtents", () => {
  it("merges overlapping extents into one answer with each timestamp once", () => {
    const merged = mergeExtents([extent(5, 15), extent(0, 10)], STEP);
    expect(merged).toHaveLength(1);
    expect([merged[0]!.startNs, merged[0]!.endNs]).toEqual([at(0), at(15)]);
    expect(merged[0]!.response.data.result).toEqual(withoutStats(matrix(0, 15)).data.result);
  });

  it("merges extents one step apart, and keeps extents two steps apart separate (sorted)", () => {
    const touching = mergeExtents([extent(6, 9), extent(0, 5)], STEP);
    expect(touching.map((e) => [e.startNs, e.endNs])).toEqual([[at(0), at(9)]]);
    expect(touching[0]!.response.data.result).toEqual(matrix(0, 9).data.result);
    const apart = mergeExtents([extent(7, 9), extent(0, 5)], STEP);
    expect(apart.map((e) => [e.startNs, e.endNs])).toEqual([
      [at(0), at(5)],
      [at(7), at(9)],
    ]);
  });

  it("absorbs a contained extent without changing the answer, and merges series that only one part has", () => {
    const inner = mergeExtents([extent(0, 10), extent(3, 4, ["a", "b", "c"])], STEP);
    expect(inner.map((e) => [e.startNs, e.endNs])).toEqual([[at(0), at(10)]]);
    expect(inner[0]!.response.data.result.map((s) => s.metric.s)).toEqual(["a", "b"]);
    const grown = mergeExtents([extent(0, 3, ["a"]), extent(4, 6, ["a", "z"])], STEP);
    expect(grown[0]!.response.data.result.map((s) => [s.metric.s, s.values!.length])).toEqual([
      ["a", 7],
      ["z", 3],
    ]);
  });

  it("does not change its input", () => {
    const a = extent(0, 5);
    const b = extent(3, 9);
    const before = JSON.stringify([a, b], (_, v) => (typeof v === "bigint" ? v.toString() : v));
    mergeExtents([a, b], STEP);
    expect(JSON.stringify([a, b], (_, v) => (typeof v === "bigint" ? v.toString() : v))).toBe(before);
  });
});

/** A cache that records the keys written, so a test can reach the chunks of a value. */
class RecordingCache implements Cache {
  readonly sets: { key: string; bytes: number }[] = [];
  constructor(readonly inner: Cache) {}
  get = (key: string) => this.inner.get(key);
  set = (key: string, value: Uint8Array, ttl: number) => (
    this.sets.push({ key, bytes: value.byteLength }), this.inner.set(key, value, ttl)
  );
  delete = (key: string) => this.inner.delete(key);
  close = () => this.inner.close();
}

/** A JSON value that deflate cannot shrink much: `n` pseudo-random hex strings. */
const incompressible = (n: number, seed = 1) => {
  const r = rng(seed);
  return { items: Array.from({ length: n }, () => Math.floor(r() * 2 ** 52).toString(16)) };
};

describe("StoredValues", () => {
  const key = hashKey("qr", "some full key");

  it("makes keys memcached accepts, whatever the full key", () => {
    const k = hashKey("qr", `weird key with spaces\n\u0000 and ${"x".repeat(10_000)}`);
    expect(k).toMatch(/^qr:[A-Za-z0-9_-]{43}$/);
    expect(hashKey("qr", "a")).not.toBe(hashKey("qr", "b"));
  });

  it("round-trips a small value inline, compressed", async () => {
    const cache = new RecordingCache(new MemoryCache(1 << 20));
    const store = new StoredValues(cache, 1 << 20);
    const value = { key: "k", body: matrix(0, 500) };
    const put = await store.put(key, value, 60);
    expect(put.stored).toBe(true);
    expect(put.bytes).toBeLessThan(JSON.stringify(value).length / 4);
    expect(cache.sets.map((s) => s.key)).toEqual([key]);
    expect(await store.get(key)).toEqual({ value, bytes: put.bytes });
    expect(await store.get(hashKey("qr", "another"))).toBeUndefined();
  });

  it("splits a value larger than an item into chunks under a manifest, and reads it back", async () => {
    const cache = new RecordingCache(new MemoryCache(1 << 20, 2048));
    const store = new StoredValues(cache, 2048);
    const value = incompressible(3000);
    const put = await store.put(key, value, 60);
    expect(put.stored).toBe(true);
    const chunks = cache.sets.filter((s) => s.key !== key);
    expect(chunks.length).toBe(Math.ceil(put.bytes / (2048 - 257)));
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.key.startsWith(`${key}:`) && c.bytes <= 2048 - 257).toBe(true);
    expect(cache.sets.at(-1)!.key).toBe(key); // the manifest last, after every chunk
    expect(await store.get(key)).toEqual({ value, bytes: put.bytes });
  });

  it("treats a missing chunk as a miss", async () => {
    const cache = new RecordingCache(new MemoryCache(1 << 20, 2048));
    const store = new StoredValues(cache, 2048);
    await store.put(key, incompressible(1000), 60);
    await cache.delete(cache.sets[2]!.key);
    expect(await store.get(key)).toBeUndefined();
  });

  it("treats a corrupted chunk, a truncated chunk or a corrupted inline value as a miss", async () => {
    const mem = new MemoryCache(1 << 20, 2048);
    const cache = new RecordingCache(mem);
    const store = new StoredValues(cache, 2048);
    await store.put(key, incompressible(1000), 60);
    const chunkKey = cache.sets[1]!.key;
    const chunk = Buffer.from((await mem.get(chunkKey))!);
    chunk[100] = chunk[100]! ^ 0xff;
    await mem.set(chunkKey, chunk, 60);
    expect(await store.get(key)).toBeUndefined();
    await mem.set(chunkKey, chunk.subarray(0, 50), 60);
    expect(await store.get(key)).toBeUndefined();

    const small = hashKey("qr", "small");
    await store.put(small, { a: 1, b: "x".repeat(100) }, 60);
    const inline = Buffer.from((await mem.get(small))!);
    inline[3] = inline[3]! ^ 0xff;
    await mem.set(small, inline, 60);
    expect(await store.get(small)).toBeUndefined();
    await mem.set(small, Buffer.of(9, 1, 2, 3), 60); // unknown format
    expect(await store.get(small)).toBeUndefined();
  });

  it("never mixes the chunks of two writes: a rewrite uses a new generation", async () => {
    const cache = new RecordingCache(new MemoryCache(1 << 20, 2048));
    const store = new StoredValues(cache, 2048);
    await store.put(key, incompressible(1000, 1), 60);
    const first = new Set(cache.sets.map((s) => s.key));
    await store.put(key, incompressible(1000, 2), 60);
    const second = cache.sets.slice(first.size).filter((s) => s.key !== key);
    expect(second.every((s) => !first.has(s.key))).toBe(true);
    expect((await store.get(key))!.value).toEqual(incompressible(1000, 2));
  });

  it("reports not stored when a chunk cannot be written", async () => {
    // The cache takes smaller items than the store was told: every chunk is refused.
    const store = new StoredValues(new MemoryCache(1 << 20, 1024), 4096);
    expect((await store.put(key, incompressible(1000), 60)).stored).toBe(false);
    expect(await store.get(key)).toBeUndefined();
  });
});

describe("MemoryCache", () => {
  afterEach(() => vi.useRealTimers());
  const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

  it("stays within its byte bound (values and keys), evicting the least recently used", async () => {
    const c = new MemoryCache(1000);
    for (const k of ["k1", "k2", "k3"]) expect(await c.set(k, bytes(298), 60)).toBe(true);
    expect(c.bytes).toBe(900);
    await c.get("k1"); // k1 is now the most recently used: k2 goes first
    expect(await c.set("k4", bytes(298), 60)).toBe(true);
    expect(c.bytes).toBe(900);
    expect(await c.get("k2")).toBeUndefined();
    for (const k of ["k1", "k3", "k4"]) expect(await c.get(k), k).toBeDefined();
    // A large value evicts as many as it needs.
    expect(await c.set("big", bytes(797), 60)).toBe(true);
    expect(c.bytes).toBe(800);
    expect(await c.get("k1")).toBeUndefined();
    expect(await c.get("big")).toEqual(bytes(797));
  });

  it("refuses values over the item or total bound, and keeps what it had", async () => {
    const c = new MemoryCache(1000, 500);
    await c.set("keep", bytes(100), 60);
    expect(await c.set("x", bytes(500), 60)).toBe(false); // 500 + 1 byte of key is over the bound
    expect(await c.set("y", bytes(499), 60)).toBe(true); // at the bound is fine
    expect(await new MemoryCache(100).set("z", bytes(100), 60)).toBe(false);
    expect(await c.get("keep")).toEqual(bytes(100));
  });

  it("replaces a value under the same key, counting its bytes once", async () => {
    const c = new MemoryCache(1000);
    await c.set("k", bytes(100, 1), 60);
    await c.set("k", bytes(200, 2), 60);
    expect(c.bytes).toBe(201);
    expect(await c.get("k")).toEqual(bytes(200, 2));
    await c.delete("k");
    await c.delete("k");
    expect(c.bytes).toBe(0);
  });

  it("expires values after their TTL and gives their bytes back", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1_000_000);
    const c = new MemoryCache(1000);
    await c.set("short", bytes(10), 1);
    await c.set("long", bytes(10), 100);
    vi.setSystemTime(1_000_999);
    expect(await c.get("short")).toBeDefined();
    vi.setSystemTime(1_001_000);
    expect(await c.get("short")).toBeUndefined();
    expect(c.bytes).toBe(14);
    expect(await c.get("long")).toBeDefined();
  });
});

describe("MemcachedCache breaker", () => {
  afterEach(() => vi.useRealTimers());

  const open = (
    port: number,
    events: { errors: string[]; states: boolean[]; skipped: number[] },
    over: Partial<ConstructorParameters<typeof MemcachedCache>[0]> = {},
  ) =>
    new MemcachedCache(
      {
        server: `127.0.0.1:${port}`,
        timeoutMs: 100,
        maxItemBytes: 1024,
        breakerFailures: 3,
        breakerCooldownMs: 2000,
        ...over,
      },
      {
        error: (op) => events.errors.push(op),
        state: (o) => events.states.push(o),
        skipped: (n) => events.skipped.push(n),
      },
    );
  const timed = async <T>(f: () => Promise<T>) => {
    const t0 = performance.now();
    const value = await f();
    return { value, ms: performance.now() - t0 };
  };

  it("opens after N failures on an unreachable port, tells once, bypasses for the cool-down, retries", async () => {
    // The breaker and memjs' failover read Date.now(); sockets and timers stay real.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1_800_000_000_000);
    const events = { errors: [] as string[], states: [] as boolean[], skipped: [] as number[] };
    const c = open(await freePort(), events);
    try {
      for (let i = 0; i < 3; i++) expect(await c.get(`k${i}`)).toBeUndefined();
      expect(await c.set("k", new Uint8Array(10), 60)).toBe(false);
      expect(events.states).toEqual([true]);
      expect(c.open).toBe(true);
      const failedOps = events.errors.filter((e) => e !== "memjs").length;
      expect(failedOps).toBe(3); // the set above never reached memjs

      // While open: answered at once, nothing tried, nothing logged again.
      const bypassed = await timed(() => Promise.all(Array.from({ length: 200 }, (_, i) => c.get(`b${i}`))));
      expect(bypassed.value.every((v) => v === undefined)).toBe(true);
      expect(bypassed.ms).toBeLessThan(50);
      expect(events.errors.filter((e) => e !== "memjs").length).toBe(3);

      // After the cool-down: one more try, which fails and re-opens without telling again.
      vi.setSystemTime(1_800_000_002_001);
      expect(c.open).toBe(false);
      expect(await c.get("again")).toBeUndefined();
      expect(events.errors.filter((e) => e !== "memjs").length).toBe(4);
      expect(c.open).toBe(true);
      expect(events.states).toEqual([true]);
    } finally {
      await c.close();
    }
  });

  it("gives up on a memcached that never answers within its deadline, then bypasses it without waiting", async () => {
    // Accepts connections, never answers a byte.
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => (sockets.add(s), s.on("error", () => {})));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const events = { errors: [] as string[], states: [] as boolean[], skipped: [] as number[] };
    const c = open((silent.address() as { port: number }).port, events, { timeoutMs: 80 });
    try {
      const first = await timed(() => c.get("k"));
      expect(first.value).toBeUndefined();
      expect(first.ms).toBeGreaterThanOrEqual(70);
      expect(first.ms).toBeLessThan(400);
      for (let i = 0; i < 2; i++) await c.get(`k${i}`);
      expect(events.states).toEqual([true]);
      const later = await timed(() => Promise.all(Array.from({ length: 50 }, (_, i) => c.get(`x${i}`))));
      // Waiting on the silent server would take at least its 80 ms deadline; bypassing takes next to nothing.
      expect(later.ms).toBeLessThan(75);
    } finally {
      await c.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it("reports each failed operation once (fairgate_cache_errors_total counts operations)", async () => {
    const events = { errors: [] as string[], states: [] as boolean[], skipped: [] as number[] };
    const c = open(await freePort(), events, { breakerFailures: 10 });
    try {
      for (let i = 0; i < 3; i++) await c.get(`k${i}`);
      expect(events.errors).toEqual(["get", "get", "get"]);
    } finally {
      await c.close();
    }
  });

  it("skips a value over max_item_bytes without asking memcached or counting a failure", async () => {
    const events = { errors: [] as string[], states: [] as boolean[], skipped: [] as number[] };
    const c = open(await freePort(), events, { breakerFailures: 1 });
    try {
      for (let i = 0; i < 5; i++) expect(await c.set("big", new Uint8Array(1025), 60)).toBe(false);
      expect(events.skipped).toEqual([1025, 1025, 1025, 1025, 1025]);
      expect(events.errors).toEqual([]);
      expect(c.open).toBe(false);
    } finally {
      await c.close();
    }
  });
});
