// Shuffle sharding by rendezvous hashing: each tenant ranks the queriers by a hash of (tenant,
// querier) and uses the first n. The same tenant and querier IDs give the same subset on every
// replica and after every restart, and adding a querier moves few tenants.

function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

export function shardFor(tenant: string, querierIds: readonly string[], n: number): string[] {
  if (n <= 0 || n >= querierIds.length) return [...querierIds];
  return [...querierIds]
    .map((id) => ({ id, rank: fnv1a64(`${tenant}\0${id}`) }))
    .sort((a, b) => (a.rank === b.rank ? (a.id < b.id ? -1 : 1) : a.rank < b.rank ? -1 : 1))
    .slice(0, n)
    .map((r) => r.id);
}
