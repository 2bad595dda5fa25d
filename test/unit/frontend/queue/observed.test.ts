import { describe, expect, it } from "vitest";
import { FairQueue } from "../../../../src/frontend/queue/fair-queue.js";
import { ObservedQueue } from "../../../../src/frontend/queue/observed.js";
import type { QueuedRequest } from "../../../../src/frontend/queue/queue.js";
import { QuerierUsage } from "../../../../src/observability/usage.js";

const item = (actor: string): QueuedRequest => ({
  tenant: "team-a",
  actorPath: ["users", actor],
  enqueuedAt: 0,
  signal: new AbortController().signal,
});

describe("the queue the status page watches", () => {
  it("is the queue it wraps: an idle-actors-only dequeue never hands out a busy actor's sub-query", () => {
    const fair = new FairQueue<QueuedRequest>({
      policy: "querier-time",
      maxLevels: 3,
      maxOutstandingPerTenant: 1000,
      maxOutstandingPerActor: 0,
      maxQueriersPerTenant: 0,
      querierIds: ["q0"],
    });
    const queue = new ObservedQueue(fair, new QuerierUsage(60_000));
    const heavy = [item("heavy"), item("heavy")];
    for (const h of heavy) queue.enqueue(h);
    expect(queue.dequeue("q0")).toBe(heavy[0]);
    // heavy has a sub-query in flight: it is not idle, so the extra slot stays free...
    expect(queue.dequeue("q0", true)).toBeUndefined();
    // ...until an actor with nothing in flight comes.
    const light = item("light");
    queue.enqueue(light);
    expect(queue.dequeue("q0", true)).toBe(light);
    expect(queue.dequeue("q0")).toBe(heavy[1]);
  });
});
