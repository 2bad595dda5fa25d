import { hash32 } from "../rendezvous.js";

/** A querier's slots as configured, for the whole cluster. */
export interface QuerierSlots {
  maxConcurrent: number;
  idleActorSlots: number;
}

/** A live replica as the budget sees it: whether it has sub-queries of its own tenants to run. */
export interface Seat {
  id: string;
  busy: boolean;
}

/**
 * The replicas in the order they are dealt querier `querier`'s slots: by a hash of (querier, replica), so that
 * the first (bigger) hands of different queriers go to different replicas.
 */
function dealOrder(querier: string, replicas: readonly string[]): string[] {
  const score = new Map(replicas.map((id) => [id, hash32(`${querier}\0${id}`)]));
  return [...replicas].sort((a, b) => score.get(b)! - score.get(a)! || (a < b ? -1 : 1));
}

/** `n` slots dealt in turn to `players` hands: the first `n % players` hands get one more. */
const hand = (n: number, players: number, seat: number) => Math.floor(n / players) + (seat < n % players ? 1 : 0);

/**
 * This replica's share of querier `querier`'s slots, so that all replicas together never run more on it than its
 * `maxConcurrent + idleActorSlots`. Deterministic, and per querier: every replica computes the same shares from the
 * same live list, whichever other queriers it knows of (discovered sets may differ between replicas for a moment).
 *
 * - The querier's whole total is dealt evenly, in the querier's deal order (above). Of a replica's hand, its turn's
 *   part of the idle-actor slots are idle-actor slots, but at least one while the querier has any: the idle-actor
 *   slot is where a user who just arrived starts at once, and a tenant's users reach only its owner's hand. Dealt
 *   whole (2 slots over 3 replicas), one owner would have none and its light users would queue behind a flood; so
 *   a replica that would get none takes one of its regular slots as one instead, and the total stays the same.
 *   (When it has nothing to run, it lends that slot as a regular one again: a flood alone still gets all of
 *   max_concurrent.)
 * - Lent shares: the regular slots of replicas with nothing to run (`busy: false`) are dealt again among the busy
 *   ones, when `borrow` says this replica may take them. Without that, one tenant flooding alone would get only
 *   its owner's 1/N of the queriers. A lender that gets work uses its own share at once; the borrowers give it
 *   back as their running sub-queries end (so, briefly, up to one share more than configured: as for a change of
 *   membership). Idle-actor slots are never lent: they are each replica's reserve for a user who just arrived.
 */
export function shareOf(
  querier: string,
  slots: QuerierSlots,
  live: readonly (string | Seat)[],
  self: string,
  borrow = false,
): QuerierSlots {
  const seats = new Map<string, Seat>();
  for (const s of live) seats.set(typeof s === "string" ? s : s.id, typeof s === "string" ? { id: s, busy: true } : s);
  seats.set(self, { id: self, busy: borrow || (seats.get(self)?.busy ?? true) });
  const order = dealOrder(querier, [...seats.keys()]);
  const n = order.length;
  const total = slots.maxConcurrent + slots.idleActorSlots;
  const handOf = (seat: number) => {
    const all = hand(total, n, seat);
    const dealt = hand(slots.idleActorSlots, n, seat);
    const idle = slots.idleActorSlots > 0 ? Math.min(all, Math.max(1, dealt)) : 0;
    // What it lends when it has nothing to run: its regular slots, and a regular slot it made an idle-actor one.
    return { maxConcurrent: all - idle, idleActorSlots: idle, lendable: all - Math.min(idle, dealt) };
  };
  const { lendable: _, ...own } = handOf(order.indexOf(self));
  if (!borrow) return own;
  const lent = order.reduce((sum, id, seat) => sum + (seats.get(id)!.busy ? 0 : handOf(seat).lendable), 0);
  const borrowers = order.filter((id) => seats.get(id)!.busy);
  return { ...own, maxConcurrent: own.maxConcurrent + hand(lent, borrowers.length, borrowers.indexOf(self)) };
}
