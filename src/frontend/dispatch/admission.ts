/**
 * Which queued sub-query starts on which querier, and when.
 *
 * A querier has `maxConcurrent` regular slots, filled in the queue's fair order, and a few extra
 * slots (`idleActorSlots`) that only an actor with nothing in flight may take. Fairness decides who
 * goes next, but it cannot preempt what already runs: when every regular slot holds a long piece of
 * a flood, an interactive user would wait for one of them to finish. The extra slot lets that user's
 * piece start at once; behind it, a querier that schedules per actor itself (Loki's query-frontend and
 * scheduler, which get X-Loki-Actor-Path) runs its work next to the flood's instead of after it. The
 * extra slots are bounded per querier, and an actor holds at most one of them at a time (it is no
 * longer idle once its piece runs), so a crowd of new actors cannot overload a querier either.
 */

export interface Slots {
  id: string;
  healthy: boolean;
  /** No longer found by discovery: its running sub-queries finish, it takes no new ones. */
  draining?: boolean;
  maxConcurrent: number;
  idleActorSlots: number;
  /** Sub-queries running, in either kind of slot. */
  inflight: number;
  /** Of which in the extra slots. */
  extraInflight: number;
}

/** A queued sub-query as admission sees it: queriers it already failed on are avoided. */
export interface Admissible {
  avoid: Set<string>;
}

export interface AdmissionQueue<J> {
  dequeue(querierId: string, idleActorsOnly?: boolean): J | undefined;
}

// A querier whose share here is no regular slot (several replicas) counts as full, not as NaN.
const load = (q: Slots) => q.inflight / Math.max(1, q.maxConcurrent);

const regularRoom = (q: Slots) => q.inflight - q.extraInflight < q.maxConcurrent;

/** Room on `q` for a sub-query of an actor that is busy (a regular slot) or idle (either kind). */
export const hasRoom = (q: Slots, idleActor: boolean): boolean =>
  q.healthy && !q.draining && (regularRoom(q) || (idleActor && q.extraInflight < q.idleActorSlots));

/** Counts a sub-query in; `extra` when no regular slot is free. Returns `extra`, for release(). */
export function occupy(q: Slots): boolean {
  const extra = !regularRoom(q);
  q.inflight++;
  if (extra) q.extraInflight++;
  return extra;
}

export function release(q: Slots, extra: boolean): void {
  q.inflight--;
  if (extra) q.extraInflight--;
}

/**
 * Starts queued sub-queries while there is room: regular slots first (least loaded querier first),
 * then extra slots for idle actors. `start` must occupy() a slot of the querier.
 */
export function admit<J extends Admissible>(
  queriers: Slots[],
  queue: AdmissionQueue<J>,
  start: (subQuery: J, querier: Slots) => void,
): number {
  let started = 0;
  for (const idleActor of [false, true])
    for (;;) {
      const free = queriers.filter((q) => hasRoom(q, idleActor)).sort((a, b) => load(a) - load(b));
      let round = 0;
      for (const q of free) {
        if (!hasRoom(q, idleActor)) continue;
        const subQuery = queue.dequeue(q.id, idleActor);
        if (!subQuery) continue;
        // A retry goes to a querier it has not failed on, when one has room.
        const target = subQuery.avoid.has(q.id)
          ? (free.find((o) => !subQuery.avoid.has(o.id) && hasRoom(o, idleActor)) ?? q)
          : q;
        start(subQuery, target);
        round++;
      }
      if (round === 0) break;
      started += round;
    }
  return started;
}
