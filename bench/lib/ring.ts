// The cache ring (src/frontend/cache/ring.ts) for bench/cache.ts: keys moved when a server joins or
// leaves, against the hash % n placement memjs used; the cost of picking a key's server; get/set
// throughput through a ring of three real memcached servers against one (medians of 5 rounds).
import { performance } from "node:perf_hooks";
import { MemcachedCache } from "../../src/frontend/cache/memcached.js";
import { hash32, Rendezvous } from "../../src/frontend/rendezvous.js";
import { RingCache } from "../../src/frontend/cache/ring.js";
import { hashKey } from "../../src/frontend/cache/stored.js";
import { median } from "./loki.js";

const ROUNDS = 5;
const KEYS = Array.from({ length: 100_000 }, (_, i) => hashKey("qr", `query ${i}`));
const ids = (n: number) => Array.from({ length: n }, (_, i) => `memcached-${i}:11211`);

/** Fraction of KEYS whose server changes from `before` to `after`, by rendezvous and by hash % n. */
function moved(before: string[], after: string[]) {
  const r0 = new Rendezvous(before.map((id) => ({ id })));
  const r1 = new Rendezvous(after.map((id) => ({ id })));
  let ring = 0;
  let modulo = 0;
  for (const k of KEYS) {
    if (r0.owner(k).id !== r1.owner(k).id) ring++;
    const h = hash32(k);
    if (before[h % before.length] !== after[h % after.length]) modulo++;
  }
  return { ring: ring / KEYS.length, modulo: modulo / KEYS.length };
}

/** Microseconds to pick the server of one key among n. */
function pickUs(n: number): number {
  const r = new Rendezvous(ids(n).map((id) => ({ id })));
  let x = 0;
  for (const k of KEYS.slice(0, 10_000)) x += r.owner(k).id.length; // warm-up
  const t = performance.now();
  for (const k of KEYS) x += r.owner(k).id.length;
  if (x < 0) throw new Error("unreachable");
  return ((performance.now() - t) * 1000) / KEYS.length;
}

/** Operations per second of `op` with `inflight` at a time, for about `ms`. */
async function throughput(op: (i: number) => Promise<unknown>, inflight: number, ms: number): Promise<number> {
  let done = 0;
  const end = performance.now() + ms;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: inflight }, async (_, w) => {
      for (let i = w; performance.now() < end; i += inflight, done++) await op(i);
    }),
  );
  return done / ((performance.now() - t) / 1000);
}

const memcached = (server: string) =>
  new MemcachedCache({ server, timeoutMs: 1000, maxItemBytes: 1 << 20, breakerFailures: 5, breakerCooldownMs: 10_000 });

export interface RingFigures {
  moved_add_4th_of_3: number;
  moved_add_4th_of_3_modulo: number;
  moved_remove_1_of_3: number;
  moved_remove_1_of_3_modulo: number;
  pick_us_3_servers: number;
  one_server_ops_per_s: { get: number; set: number };
  ring_of_3_ops_per_s: { get: number; set: number };
  ring_over_one: { get: number; set: number };
}

/** `addresses`: three running memcached servers ("host:port"). */
export async function ringFigures(addresses: string[], ms = 1000): Promise<RingFigures> {
  const add = moved(ids(3), ids(4));
  const remove = moved(
    ids(3),
    ids(3).filter((_, i) => i !== 1),
  );
  const value = new Uint8Array(2048).fill(7); // about a compressed extent of a small query
  const single = memcached(addresses[0]!);
  const ring = new RingCache(addresses.map((id) => ({ id, cache: memcached(id) })));
  // Rounds alternate between the two, and medians are kept: the machine's other load drifts.
  const rates = {
    one: { get: [] as number[], set: [] as number[] },
    ring: { get: [] as number[], set: [] as number[] },
  };
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const [name, cache] of [
        ["one", single],
        ["ring", ring],
      ] as const) {
        rates[name].set.push(await throughput((i) => cache.set(KEYS[i % KEYS.length]!, value, 600), 32, ms));
        rates[name].get.push(await throughput((i) => cache.get(KEYS[i % KEYS.length]!), 32, ms));
      }
  } finally {
    await Promise.all([single.close(), ring.close()]);
  }
  const one = { get: median(rates.one.get), set: median(rates.one.set) };
  const three = { get: median(rates.ring.get), set: median(rates.ring.set) };
  return {
    moved_add_4th_of_3: add.ring,
    moved_add_4th_of_3_modulo: add.modulo,
    moved_remove_1_of_3: remove.ring,
    moved_remove_1_of_3_modulo: remove.modulo,
    pick_us_3_servers: pickUs(3),
    one_server_ops_per_s: one,
    ring_of_3_ops_per_s: three,
    ring_over_one: { get: three.get / one.get, set: three.set / one.set },
  };
}

export function printRing(f: RingFigures): void {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(6);
  const ops = (x: number) => `${Math.round(x)}`.padStart(7);
  console.log(`Cache ring (${KEYS.length} keys; rendezvous hashing, and hash % n as memjs placed keys):`);
  console.log(
    `  keys moved, a 4th server joins 3 ${pct(f.moved_add_4th_of_3)} (hash % n: ${pct(f.moved_add_4th_of_3_modulo)})`,
  );
  console.log(
    `  keys moved, 1 of 3 servers leaves ${pct(f.moved_remove_1_of_3)} ` +
      `(hash % n: ${pct(f.moved_remove_1_of_3_modulo)})`,
  );
  console.log(`  picking a key's server among 3    ${f.pick_us_3_servers.toFixed(2).padStart(6)} µs`);
  console.log(
    `  get/s, 32 in flight: one server ${ops(f.one_server_ops_per_s.get)}, ring of 3 ` +
      `${ops(f.ring_of_3_ops_per_s.get)} (${f.ring_over_one.get.toFixed(2)}×)`,
  );
  console.log(
    `  set/s, 32 in flight: one server ${ops(f.one_server_ops_per_s.set)}, ring of 3 ` +
      `${ops(f.ring_of_3_ops_per_s.set)} (${f.ring_over_one.set.toFixed(2)}×)`,
  );
}
