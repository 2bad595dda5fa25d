import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../../src/config/load.js";
import { buildCache } from "../../../../src/frontend/cache/build.js";
import type { Cache } from "../../../../src/frontend/cache/cache.js";
import { MemcachedCache } from "../../../../src/frontend/cache/memcached.js";
import { MemoryCache } from "../../../../src/frontend/cache/memory.js";
import { hash32, Rendezvous } from "../../../../src/frontend/rendezvous.js";
import { RingCache } from "../../../../src/frontend/cache/ring.js";
import { hashKey } from "../../../../src/frontend/cache/stored.js";

// 10k keys shaped as the results cache makes them (a prefix and a SHA-256), plus chunk keys.
const KEYS = Array.from({ length: 10_000 }, (_, i) =>
  i % 10 === 9 ? `${hashKey("fr", `q${i - 1}`)}:0123456789abcdef:${i % 4}` : hashKey("fr", `q${i}`),
);
const servers = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `10.0.0.${i + 1}:11211` }));

/** Which node owns each key. */
const owners = (r: Rendezvous<{ id: string }>) => KEYS.map((k) => r.owner(k).id);
const count = (ids: string[]) => {
  const m = new Map<string, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
};

describe("rendezvous hashing", () => {
  it("spreads 10k keys over 3 servers within ±10% of a third each", () => {
    const per = count(owners(new Rendezvous(servers(3))));
    expect(per.size).toBe(3);
    for (const n of per.values()) expect(Math.abs(n - 10_000 / 3)).toBeLessThan(10_000 / 3 / 10);
  });

  it("moves about 1/4 of the keys (0.2-0.3) when a 4th server joins, all of them to it, evenly from the others", () => {
    const before = owners(new Rendezvous(servers(3)));
    const after = owners(new Rendezvous(servers(4)));
    const moved = KEYS.flatMap((_, i) => (before[i] !== after[i] ? [i] : []));
    expect(moved.length / KEYS.length).toBeGreaterThan(0.2);
    expect(moved.length / KEYS.length).toBeLessThan(0.3);
    expect(new Set(moved.map((i) => after[i]))).toEqual(new Set(["10.0.0.4:11211"]));
    // Each old server gives up about a quarter of its keys.
    const lost = count(moved.map((i) => before[i]!));
    const had = count(before);
    for (const [id, n] of lost) expect(n / had.get(id)!).toBeGreaterThan(0.2);
    for (const [id, n] of lost) expect(n / had.get(id)!).toBeLessThan(0.3);
  });

  it("moves only the removed server's keys when one of 3 leaves, spread over the two left", () => {
    const before = owners(new Rendezvous(servers(3)));
    const left = servers(3).filter((s) => s.id !== "10.0.0.2:11211");
    const after = owners(new Rendezvous(left));
    const moved = KEYS.flatMap((_, i) => (before[i] !== after[i] ? [i] : []));
    expect(moved.every((i) => before[i] === "10.0.0.2:11211")).toBe(true);
    expect(moved.length).toBe(before.filter((id) => id === "10.0.0.2:11211").length);
    const to = count(moved.map((i) => after[i]!));
    for (const n of to.values()) expect(n / moved.length).toBeGreaterThan(0.4);
    for (const n of to.values()) expect(n / moved.length).toBeLessThan(0.6);
  });

  it("gives every key the same owner whatever the order of the list (every replica agrees)", () => {
    const a = owners(new Rendezvous(servers(5)));
    const b = owners(new Rendezvous(servers(5).reverse()));
    expect(b).toEqual(a);
  });

  it("gives a weight-2 server half of the keys among weight-1 ones; changing it moves keys only to and from it", () => {
    const even = owners(new Rendezvous(servers(3)));
    const heavy = owners(new Rendezvous(servers(3).map((s, i) => (i === 0 ? { ...s, weight: 2 } : s))));
    const share = count(heavy).get("10.0.0.1:11211")! / KEYS.length;
    expect(share).toBeGreaterThan(0.45);
    expect(share).toBeLessThan(0.55);
    for (const [i, id] of heavy.entries()) if (id !== even[i]) expect(id).toBe("10.0.0.1:11211");
  });

  it("refuses no nodes, duplicate IDs and weights that are not positive", () => {
    expect(() => new Rendezvous([])).toThrow(/at least one node/);
    expect(() => new Rendezvous([{ id: "a:1" }, { id: "a:1" }])).toThrow(/unique/);
    for (const weight of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => new Rendezvous([{ id: "a:1", weight }])).toThrow(/weight must be positive/);
  });

  it("hashes to 32 bits, and a one-character change flips about half of them", () => {
    let flipped = 0;
    for (let i = 0; i < 1000; i++) {
      const h = hash32(`key-${i}`);
      expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
      let x = h ^ hash32(`key-${i}!`);
      while (x) (flipped += x & 1), (x >>>= 1);
    }
    expect(flipped / 1000).toBeGreaterThan(14);
    expect(flipped / 1000).toBeLessThan(18);
  });
});

/** A server that is down behind its breaker: every get misses, every set fails, at once. */
class DeadServer implements Cache {
  gets = 0;
  get = async () => (this.gets++, undefined);
  set = async () => false;
  delete = async () => {};
  close = async () => {};
}

describe("RingCache", () => {
  const value = (i: number) => new Uint8Array([i % 256, 1, 2, 3]);

  it("stores each key on its owner only, and reads and deletes it there", async () => {
    const memories = servers(3).map((s) => ({ ...s, cache: new MemoryCache(1 << 24) }));
    const ring = new RingCache(memories);
    const keys = KEYS.slice(0, 600);
    for (const [i, k] of keys.entries()) expect(await ring.set(k, value(i), 60)).toBe(true);
    for (const s of memories) expect(s.cache.bytes).toBeGreaterThan(0);
    for (const [i, k] of keys.entries()) {
      expect(await ring.get(k)).toEqual(value(i));
      const holders = [];
      for (const s of memories) if (await s.cache.get(k)) holders.push(s.id);
      expect(holders).toEqual([ring.serverFor(k).id]);
    }
    await ring.delete(keys[0]!);
    expect(await ring.get(keys[0]!)).toBeUndefined();
  });

  it("with one server dead, misses only that server's keys and keeps serving the rest", async () => {
    const dead = new DeadServer();
    const live = servers(2).map((s) => ({ ...s, cache: new MemoryCache(1 << 24) }));
    const ring = new RingCache([...live, { id: "10.0.0.3:11211", cache: dead }]);
    const keys = KEYS.slice(0, 900);
    const stored = await Promise.all(keys.map((k, i) => ring.set(k, value(i), 60)));
    const got = await Promise.all(keys.map((k) => ring.get(k)));
    const onDead = keys.map((k) => ring.serverFor(k).id === "10.0.0.3:11211");
    expect(onDead.filter(Boolean).length).toBeGreaterThan(200);
    for (const [i, d] of onDead.entries()) {
      expect(stored[i]).toBe(!d);
      expect(got[i]).toEqual(d ? undefined : value(i));
    }
    expect(dead.gets).toBe(onDead.filter(Boolean).length);
  });

  it("closes every server", async () => {
    const closed: string[] = [];
    const ring = new RingCache(
      servers(3).map((s) => ({
        ...s,
        cache: Object.assign(new DeadServer(), { close: async () => void closed.push(s.id) }),
      })),
    );
    await ring.close();
    expect(closed.sort()).toEqual(servers(3).map((s) => s.id));
  });
});

describe("memcached servers in the config", () => {
  const cacheConfig = (servers: unknown[]) =>
    parseConfig({
      frontend: { queriers: [{ url: "http://q:3100" }], cache: { backend: "memcached", memcached: { servers } } },
    }).frontend!.cache;
  const problems = (servers: unknown[]) => {
    try {
      cacheConfig(servers);
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
    return [];
  };

  it('takes "host:port" and { address, weight }', () => {
    expect(cacheConfig(["a:11211", { address: "b:11211", weight: 2 }]).memcached!.servers).toEqual([
      { address: "a:11211", weight: 1 },
      { address: "b:11211", weight: 2 },
    ]);
  });

  it("names the server listed twice, a bad address and a bad weight", () => {
    expect(problems(["a:11211", "b:11211", { address: "a:11211" }])).toEqual([
      "frontend.cache.memcached.servers[2]: a:11211 is listed twice",
    ]);
    expect(problems(["a"])).toEqual(['frontend.cache.memcached.servers[0].address: use "host:port"']);
    expect(problems([11211])).toEqual([
      'frontend.cache.memcached.servers[0]: use "host:port" or { address: "host:port", weight: 2 }',
    ]);
    expect(problems([{ address: "a:1", weight: 0 }])[0]).toMatch(/^frontend\.cache\.memcached\.servers\[0\]\.weight:/);
  });

  it("builds one server as that server alone (no ring), and several as a ring over them", async () => {
    const one = buildCache(cacheConfig(["127.0.0.1:1"]), {});
    const three = buildCache(cacheConfig(["127.0.0.1:1", "127.0.0.1:2", { address: "127.0.0.1:3", weight: 3 }]), {});
    try {
      expect(one).toBeInstanceOf(MemcachedCache);
      expect(three).toBeInstanceOf(RingCache);
      const ring = three as RingCache;
      expect(ring.servers.map((s) => [s.id, s.weight, (s.cache as MemcachedCache).opts.server])).toEqual([
        ["127.0.0.1:1", 1, "127.0.0.1:1"],
        ["127.0.0.1:2", 1, "127.0.0.1:2"],
        ["127.0.0.1:3", 3, "127.0.0.1:3"],
      ]);
    } finally {
      await Promise.all([one.close(), three.close()]);
    }
  });
});
