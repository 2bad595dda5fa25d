import { describe, expect, it } from "vitest";
import { admit, occupy, release, type Slots } from "../../../../src/frontend/dispatch/admission.js";
import { FairQueue } from "../../../../src/frontend/queue/fair-queue.js";
import type { QueuedRequest } from "../../../../src/frontend/queue/queue.js";

interface SubQuery extends QueuedRequest {
  name: string;
  avoid: Set<string>;
}

const job = (actor: string, name = actor): SubQuery => ({
  name,
  tenant: "t",
  actorPath: ["users", actor],
  enqueuedAt: 0,
  signal: new AbortController().signal,
  avoid: new Set(),
});

function setup(queriers: Partial<Slots>[] = [{}]) {
  const slots: Slots[] = queriers.map((q, i) => ({
    id: `q${i}`,
    healthy: true,
    maxConcurrent: 2,
    idleActorSlots: 1,
    inflight: 0,
    extraInflight: 0,
    ...q,
  }));
  const queue = new FairQueue<SubQuery>({
    policy: "querier-time",
    maxLevels: 3,
    maxOutstandingPerTenant: 10_000,
    maxOutstandingPerActor: 0,
    maxQueriersPerTenant: 0,
    querierIds: slots.map((q) => q.id),
  });
  const running: { job: SubQuery; on: Slots; extra: boolean }[] = [];
  const pump = () => admit(slots, queue, (j, q) => running.push({ job: j, on: q, extra: occupy(q) }));
  const finish = (name: string, querierMs = 100) => {
    const i = running.findIndex((r) => r.job.name === name);
    const [r] = running.splice(i, 1);
    release(r!.on, r!.extra);
    queue.finished(r!.job, querierMs);
    pump();
  };
  const names = () => running.map((r) => r.job.name);
  return { slots, queue, pump, finish, names };
}

describe("admission: extra slots for actors with nothing in flight", () => {
  it("a flood fills the regular slots only; an idle actor's piece starts at once beside it", () => {
    const s = setup();
    for (let i = 0; i < 6; i++) s.queue.enqueue(job("heavy", `h${i}`));
    s.pump();
    expect(s.names()).toEqual(["h0", "h1"]); // the extra slot is not the flood's
    s.queue.enqueue(job("light", "l0"));
    s.pump();
    expect(s.names()).toEqual(["h0", "h1", "l0"]); // no flood piece had to finish first
    expect(s.queue.length).toBe(4);
  });

  it("an actor holds at most one extra slot: its other pieces wait for regular ones", () => {
    const s = setup([{ idleActorSlots: 2 }]);
    for (let i = 0; i < 4; i++) s.queue.enqueue(job("heavy", `h${i}`));
    s.pump();
    for (let i = 0; i < 3; i++) s.queue.enqueue(job("light", `l${i}`));
    s.pump();
    // One extra slot is still free, but light is no longer idle once l0 runs.
    expect(s.names()).toEqual(["h0", "h1", "l0"]);
    s.finish("h0", 400); // a long flood piece
    // A regular slot: light has used the least querier time, so its turn comes first.
    expect(s.names()).toEqual(["h1", "l0", "l1"]);
  });

  it("the extra slots are bounded per querier, whatever the number of idle actors", () => {
    const s = setup([{ idleActorSlots: 2 }]);
    for (let i = 0; i < 4; i++) s.queue.enqueue(job("heavy", `h${i}`));
    s.pump();
    for (let i = 0; i < 5; i++) s.queue.enqueue(job(`new${i}`));
    s.pump();
    expect(s.slots[0]!.inflight).toBe(4); // 2 regular + 2 extra
    expect(s.names().filter((n) => n.startsWith("new"))).toHaveLength(2);
    // A finished extra piece frees room for the next idle actor, not for the flood.
    s.finish("new0");
    expect(s.names().filter((n) => n.startsWith("new"))).toHaveLength(2);
    expect(s.names().filter((n) => n.startsWith("h"))).toHaveLength(2);
  });

  it("with no extra slots, the idle actor waits for a flood piece to finish (the behaviour it replaces)", () => {
    const s = setup([{ idleActorSlots: 0 }]);
    for (let i = 0; i < 4; i++) s.queue.enqueue(job("heavy", `h${i}`));
    s.pump();
    s.queue.enqueue(job("light", "l0"));
    s.pump();
    expect(s.names()).toEqual(["h0", "h1"]);
    s.finish("h0");
    expect(s.names()).toEqual(["h1", "l0"]);
  });

  it("unhealthy queriers get nothing; a retry avoids the querier it failed on when another has room", () => {
    const s = setup([{ healthy: false }, {}, {}]);
    const retry = job("a", "retry");
    retry.avoid.add("q1");
    s.queue.enqueue(retry);
    s.pump();
    expect(s.slots[0]!.inflight).toBe(0);
    expect(s.slots[2]!.inflight).toBe(1);
  });
});

describe("FairQueue.dequeue(querier, idleActorsOnly)", () => {
  it("returns only requests of actors with nothing in flight, and nothing when there are none", () => {
    const { queue } = setup();
    queue.enqueue(job("busy", "b0"));
    queue.enqueue(job("busy", "b1"));
    expect(queue.dequeue("q0")!.name).toBe("b0");
    expect(queue.dequeue("q0", true)).toBeUndefined(); // busy has b0 in flight
    queue.enqueue(job("idle", "i0"));
    expect(queue.dequeue("q0", true)!.name).toBe("i0");
    expect(queue.dequeue("q0", true)).toBeUndefined();
    expect(queue.dequeue("q0")!.name).toBe("b1");
  });
});
