// Rendezvous (highest random weight) hashing, for the cache ring and for tenant owners (replicas/owner.ts):
// every key scores every node with a hash of (key, node) and goes to the node with the highest score. Adding or removing one of N nodes moves only the keys
// that node wins or held, about 1/N of them, and every process with the same node IDs agrees on
// every key's owner without talking to the others (the order of the list does not matter).
//
// The hash runs on every cache operation, once per node: a 32-bit FNV-1a over the key's UTF-16
// code units, finished with murmur3's fmix32 (FNV alone mixes its last characters poorly), then one
// fmix32 per node of (key hash XOR node hash). Under a microsecond per key for three nodes, where
// 64-bit FNV on BigInt (queue/shard.ts) takes about 20 µs. 32 bits are plenty: keys that collide only
// share a server, and two nodes tie on a key about once in 2^32 (then the lower ID wins, everywhere).

/** murmur3's 32-bit finaliser: every input bit flips each output bit with probability about 1/2. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A well-mixed, non-cryptographic 32-bit hash of a string. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

export interface RendezvousNode {
  /** Stable across restarts and replicas (a memcached server's "host:port"). */
  id: string;
  /** Share of keys relative to the other nodes (default 1). */
  weight?: number;
}

const TWO_TO_32 = 4_294_967_296;

/** Picks each key's node by rendezvous hashing over a fixed set of nodes. */
export class Rendezvous<T extends RendezvousNode> {
  readonly #nodes: { node: T; seed: number; weight: number }[];

  constructor(nodes: readonly T[]) {
    if (nodes.length === 0) throw new Error("rendezvous hashing needs at least one node");
    const ids = new Set(nodes.map((n) => n.id));
    if (ids.size !== nodes.length) throw new Error("rendezvous node IDs must be unique");
    this.#nodes = [...nodes]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((node) => {
        const weight = node.weight ?? 1;
        if (!(weight > 0 && Number.isFinite(weight))) throw new Error(`node ${node.id}: weight must be positive`);
        return { node, seed: hash32(node.id), weight };
      });
  }

  get nodes(): T[] {
    return this.#nodes.map((n) => n.node);
  }

  /** The node that owns `key`. */
  owner(key: string): T {
    const nodes = this.#nodes;
    if (nodes.length === 1) return nodes[0]!.node;
    const hk = hash32(key);
    let best = nodes[0]!;
    let bestScore = -1;
    for (const n of nodes) {
      // A uniform draw in (0, 1) per (key, node); -weight / ln(u) makes each node win in proportion
      // to its weight (the logarithmic method of weighted rendezvous hashing). Equal weights rank as u.
      const u = (fmix32(hk ^ n.seed) + 0.5) / TWO_TO_32;
      const score = -n.weight / Math.log(u);
      if (score > bestScore) {
        bestScore = score;
        best = n;
      }
    }
    return best.node;
  }
}
