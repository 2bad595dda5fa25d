import { describe, expect, it } from "vitest";
import { shareOf } from "../../../../src/frontend/replicas/budget.js";

const q = (maxConcurrent: number, idleActorSlots = 0) => ({ maxConcurrent, idleActorSlots });
const replicas = (n: number) => Array.from({ length: n }, (_, i) => `r${i}`);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe("querier budget shared out among replicas", () => {
  it("one replica keeps every querier's configured slots", () => {
    expect(shareOf("http://q1:3100", q(4, 2), ["me"], "me")).toEqual(q(4, 2));
    expect(shareOf("http://q2:3100", q(3, 0), ["me"], "me")).toEqual(q(3, 0));
  });

  it("per querier, all replicas together hold exactly its max_concurrent + idle_actor_slots", () => {
    for (const cfg of [q(5, 2), q(1, 1), q(7, 0), q(2, 3), q(4, 2), q(2, 2)])
      for (let n = 1; n <= 9; n++) {
        const live = replicas(n);
        const shares = live.map((id) => shareOf("http://10.0.0.7:3100", cfg, live, id));
        expect(sum(shares.map((s) => s.maxConcurrent + s.idleActorSlots)), `${JSON.stringify(cfg)} over ${n}`).toBe(
          cfg.maxConcurrent + cfg.idleActorSlots,
        );
        // Hands differ by at most one slot.
        const hands = shares.map((s) => s.maxConcurrent + s.idleActorSlots);
        expect(Math.max(...hands) - Math.min(...hands)).toBeLessThanOrEqual(1);
      }
  });

  // Issue 21: 2 idle-actor slots dealt whole over 3 replicas left one owner none.
  it("every replica with a hand has an idle-actor slot while the querier has any", () => {
    for (const cfg of [q(4, 2), q(2, 2), q(4, 1), q(8, 2)])
      for (let n = 1; n <= 6; n++) {
        const live = replicas(n);
        for (const id of live) {
          const s = shareOf("http://q:3100", cfg, live, id);
          if (s.maxConcurrent + s.idleActorSlots > 0) expect(s.idleActorSlots, `${id} of ${n}`).toBeGreaterThan(0);
        }
      }
    const live = replicas(3);
    expect(live.map((id) => shareOf("http://q:3100", q(4, 2), live, id))).toEqual([q(1, 1), q(1, 1), q(1, 1)]);
    // Off means off: no idle-actor slot is made out of regular ones.
    expect(live.map((id) => shareOf("http://q:3100", q(6, 0), live, id).idleActorSlots)).toEqual([0, 0, 0]);
  });

  it("sized as docs/discovery.md says (max_concurrent ≥ replicas, the total ≥ twice), every hand holds both kinds", () => {
    for (let n = 1; n <= 6; n++)
      for (let m = n; m <= 3 * n; m++)
        for (let idle = Math.max(1, 2 * n - m); idle <= 3 * n; idle++) {
          const live = replicas(n);
          for (const id of live) {
            const s = shareOf(`http://q${m}-${idle}:3100`, q(m, idle), live, id);
            expect(s.maxConcurrent > 0 && s.idleActorSlots > 0, `${m}+${idle} over ${n}: ${id}`).toBe(true);
          }
        }
  });

  it("each querier's share depends only on that querier and the live replicas, in any order", () => {
    const cfg = q(3, 1);
    expect(shareOf("http://a:1", cfg, ["b", "a", "c"], "a")).toEqual(shareOf("http://a:1", cfg, ["c", "b", "a"], "a"));
    // Not yet in the live list it heard of (its own heartbeat not seen yet): it counts itself.
    expect(shareOf("http://a:1", cfg, ["b"], "a")).toEqual(shareOf("http://a:1", cfg, ["a", "b"], "a"));
  });

  it("the bigger hands of different queriers go to different replicas", () => {
    const live = replicas(3);
    const totals = new Map(live.map((id) => [id, 0]));
    for (let i = 0; i < 60; i++)
      for (const id of live)
        totals.set(id, totals.get(id)! + shareOf(`http://10.0.1.${i}:3100`, q(1), live, id).maxConcurrent);
    // 60 one-slot queriers over 3 replicas: each replica gets a fair part of them, not all or none.
    for (const [id, n] of totals) expect(n, id).toBeGreaterThan(10);
  });

  it("more replicas than slots: some replicas get none", () => {
    const live = replicas(3);
    const hands = live.map((id) => shareOf("http://q:3100", q(2), live, id).maxConcurrent);
    expect(hands.sort()).toEqual([0, 1, 1]);
  });

  describe("lending: replicas with nothing to run lend their regular slots to the busy ones", () => {
    const seats = (busy: string) => ["a", "b", "c"].map((id) => ({ id, busy: busy.includes(id) }));
    const Q = "http://q:3100";

    it("one busy replica alone uses every regular slot; idle-actor slots stay each replica's own", () => {
      const own = ["a", "b", "c"].map((id) => shareOf(Q, q(4, 2), ["a", "b", "c"], id));
      const lent = shareOf(Q, q(4, 2), seats("a"), "a", true);
      // a: its own hand plus what b and c lend (4 regular slots in all, 3 if a's own idle-actor slot was made of a
      // regular one); its idle-actor slot stays its own.
      const madeIdle = ["a", "b", "c"].filter((id) => shareOf(Q, q(4, 2), seats(id), id, true).maxConcurrent === 3);
      expect(madeIdle).toHaveLength(1);
      expect(lent).toEqual(q(madeIdle[0] === "a" ? 3 : 4, own[0]!.idleActorSlots));
      // The lenders keep their own share: work that arrives there starts at once.
      expect(shareOf(Q, q(4, 2), seats("a"), "b")).toEqual(own[1]);
    });

    it("a flood alone holds every regular slot, less an idle-actor slot its own hand was given beyond its turn", () => {
      for (const cfg of [q(5, 2), q(1, 1), q(7, 0), q(4, 2), q(2, 2)])
        for (const busy of ["a", "ab", "bc", "abc", "c"]) {
          const held = sum([...busy].map((id) => shareOf(Q, cfg, seats(busy), id, true).maxConcurrent));
          expect(held, `busy ${busy}, ${JSON.stringify(cfg)}`).toBeLessThanOrEqual(cfg.maxConcurrent);
          expect(held, `busy ${busy}, ${JSON.stringify(cfg)}`).toBeGreaterThanOrEqual(cfg.maxConcurrent - busy.length);
          // Lenders and borrowers together never exceed the querier's total.
          const idle = sum(["a", "b", "c"].map((id) => shareOf(Q, cfg, seats(busy), id, true).idleActorSlots));
          expect(held + idle).toBeLessThanOrEqual(cfg.maxConcurrent + cfg.idleActorSlots + (busy.length < 3 ? 1 : 0));
        }
    });

    it("a busy replica that may not borrow yet (the others have not heard) keeps to its own share", () => {
      expect(shareOf(Q, q(4, 2), seats("a"), "a", false)).toEqual(shareOf(Q, q(4, 2), ["a", "b", "c"], "a"));
    });
  });
});
