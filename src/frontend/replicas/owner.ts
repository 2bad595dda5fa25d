import { Rendezvous } from "../rendezvous.js";

/**
 * The owner of a tenant among the live replicas, by rendezvous hashing (the same as the cache ring's): every
 * replica computes the same owner from the same live set; when a replica leaves, only the tenants it owned move
 * (each to its own next-highest replica), and a replica that joins takes about 1/N of the tenants from the others.
 * The tenant key is the queue's tenant: "a|b" for a federated query, which so has one home of its own.
 */
export function ownerOf(tenant: string, replicas: readonly string[]): string | undefined {
  if (replicas.length === 0) return undefined;
  return new Rendezvous([...new Set(replicas)].map((id) => ({ id }))).owner(tenant).id;
}
