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
 * This replica's share of every querier's slots, so that all replicas together use each querier as configured.
 * Deterministic: every replica computes the same shares from the same live list.
 *
 * - Its own share: all queriers' slots are laid out in config order and dealt round-robin to the live replicas
 *   sorted by ID; so each replica gets at least one slot overall when there are at least as many slots as
 *   replicas, and per querier the shares add up to the configured number. Idle-actor slots are dealt the same
 *   way, separately.
 * - Lent shares: the regular slots of replicas with nothing to run (`busy: false`) are dealt again among the busy
 *   ones, when `borrow` says this replica may take them. Without that, one tenant flooding alone would get only
 *   its owner's 1/N of the queriers. A lender that gets work uses its own share at once; the borrowers give it
 *   back as their running sub-queries end (so, briefly, up to one share more than configured: as for a change of
 *   membership). Idle-actor slots are never lent: they are each replica's reserve for a user who just arrived.
 */
export function shareOf(
  queriers: readonly QuerierSlots[],
  live: readonly (string | Seat)[],
  self: string,
  borrow = false,
): QuerierSlots[] {
  const seats = new Map<string, Seat>();
  for (const s of live) seats.set(typeof s === "string" ? s : s.id, typeof s === "string" ? { id: s, busy: true } : s);
  seats.set(self, { id: self, busy: borrow || (seats.get(self)?.busy ?? true) });
  const replicas = [...seats.keys()].sort();
  const regular = deal(
    queriers.map((q) => q.maxConcurrent),
    replicas.length,
  );
  const idle = deal(
    queriers.map((q) => q.idleActorSlots),
    replicas.length,
  );
  const seat = replicas.indexOf(self);
  const share = queriers.map((_, i) => ({ maxConcurrent: regular[seat]![i]!, idleActorSlots: idle[seat]![i]! }));
  if (!borrow) return share;
  const borrowers = replicas.filter((id) => seats.get(id)!.busy);
  const lent = queriers.map((_, i) =>
    replicas.reduce((n, id, seat) => n + (seats.get(id)!.busy ? 0 : regular[seat]![i]!), 0),
  );
  const extra = deal(lent, borrowers.length)[borrowers.indexOf(self)]!;
  return share.map((s, i) => ({ ...s, maxConcurrent: s.maxConcurrent + extra[i]! }));
}

/** counts[q] slots per querier dealt to `players` in turn: [player][querier] = slots. */
export function deal(counts: readonly number[], players: number): number[][] {
  const hands = Array.from({ length: players }, () => counts.map(() => 0));
  let next = 0;
  counts.forEach((n, q) => {
    for (let s = 0; s < n; s++) {
      hands[next]![q]!++;
      next = (next + 1) % players;
    }
  });
  return hands;
}
