import { createHash } from "node:crypto";

/**
 * The owner of a tenant among the live replicas: rendezvous (highest random weight) hashing. Every replica
 * computes the same owner from the same live set; when a replica leaves, only the tenants it owned move (each to
 * its own next-highest replica), and a replica that joins takes about 1/N of the tenants from the others.
 * The tenant key is the queue's tenant: "a|b" for a federated query, which so has one home of its own.
 */
export function ownerOf(tenant: string, replicas: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const id of replicas) {
    const w = weight(tenant, id);
    // Ties (practically impossible with 64 bits) go to the smaller ID, so the answer never depends on order.
    if (w > bestWeight || (w === bestWeight && best !== undefined && id < best)) {
      best = id;
      bestWeight = w;
    }
  }
  return best;
}

/** A 64-bit weight of the pair; the NUL separator keeps ("ab","c") and ("a","bc") apart. */
function weight(tenant: string, replica: string): bigint {
  return createHash("sha256").update(replica).update("\0").update(tenant).digest().readBigUInt64BE(0);
}
