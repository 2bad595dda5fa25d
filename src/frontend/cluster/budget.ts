/** A querier's slots as configured, for the whole cluster. */
export interface QuerierSlots {
  maxConcurrent: number;
  idleActorSlots: number;
}

/**
 * This replica's share of every querier's slots, so that all replicas together use each querier exactly as
 * configured. Deterministic: every replica computes the same shares from the same live list. All queriers'
 * slots are laid out in config order and dealt round-robin to the live replicas sorted by ID; so each replica
 * gets at least one slot overall when there are at least as many slots as replicas, and per querier the shares
 * add up to the configured number. Idle-actor slots are dealt the same way, separately.
 */
export function shareOf(queriers: readonly QuerierSlots[], live: readonly string[], self: string): QuerierSlots[] {
  const replicas = [...new Set([...live, self])].sort();
  const seat = replicas.indexOf(self);
  const regular = deal(
    queriers.map((q) => q.maxConcurrent),
    replicas.length,
  )[seat]!;
  const idle = deal(
    queriers.map((q) => q.idleActorSlots),
    replicas.length,
  )[seat]!;
  return queriers.map((_, i) => ({ maxConcurrent: regular[i]!, idleActorSlots: idle[i]! }));
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
