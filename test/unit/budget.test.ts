import { describe, expect, it } from "vitest";
import { deal, shareOf } from "../../src/frontend/cluster/budget.js";

const q = (maxConcurrent: number, idleActorSlots = 0) => ({ maxConcurrent, idleActorSlots });

describe("querier budget shared out among replicas", () => {
  it("one replica keeps every querier's configured slots", () => {
    expect(shareOf([q(4, 2), q(3, 1)], ["me"], "me")).toEqual([q(4, 2), q(3, 1)]);
  });

  it("deals slots in config order round-robin to the replicas sorted by ID", () => {
    // Slots of querier 0: a b c a; of querier 1: b c a.
    expect(deal([4, 3], 3)).toEqual([
      [2, 1],
      [1, 1],
      [1, 1],
    ]);
    expect(shareOf([q(4), q(3)], ["c", "a", "b"], "a")).toEqual([q(2), q(1)]);
    expect(shareOf([q(4), q(3)], ["c", "a", "b"], "c")).toEqual([q(1), q(1)]);
  });

  it("per querier, the shares of all replicas add up to exactly the configured number", () => {
    const queriers = [q(5, 2), q(1, 1), q(7, 0), q(2, 3)];
    for (let n = 1; n <= 9; n++) {
      const live = Array.from({ length: n }, (_, i) => `r${i}`);
      const shares = live.map((id) => shareOf(queriers, live, id));
      queriers.forEach((cfg, i) => {
        expect(shares.reduce((s, share) => s + share[i]!.maxConcurrent, 0)).toBe(cfg.maxConcurrent);
        expect(shares.reduce((s, share) => s + share[i]!.idleActorSlots, 0)).toBe(cfg.idleActorSlots);
      });
      // 15 regular slots: every replica gets at least one while there are at most 15 replicas.
      for (const share of shares) expect(share.reduce((s, x) => s + x.maxConcurrent, 0)).toBeGreaterThan(0);
    }
  });

  it("every replica computes the same shares from the same live list, and counts itself live", () => {
    const queriers = [q(3, 1), q(2, 2)];
    expect(shareOf(queriers, ["b", "a"], "a")).toEqual(shareOf(queriers, ["a", "b"], "a"));
    // Not yet in the live list it heard of (its own heartbeat not seen yet): it counts itself.
    expect(shareOf(queriers, ["b"], "a")).toEqual(shareOf(queriers, ["a", "b"], "a"));
  });

  it("more replicas than slots: some replicas get none", () => {
    const live = ["a", "b", "c"];
    expect(live.map((id) => shareOf([q(2)], live, id)[0]!.maxConcurrent)).toEqual([1, 1, 0]);
  });

  describe("lending: replicas with nothing to run lend their regular slots to the busy ones", () => {
    const seats = (busy: string) => ["a", "b", "c"].map((id) => ({ id, busy: busy.includes(id) }));

    it("one busy replica alone uses every regular slot; idle-actor slots stay each replica's own", () => {
      expect(shareOf([q(4, 2)], seats("a"), "a", true)).toEqual([q(4, 1)]);
      // The lenders keep their own share: work that arrives there starts at once.
      expect(shareOf([q(4, 2)], seats("a"), "b")).toEqual([q(1, 1)]);
      expect(shareOf([q(4, 2)], seats("a"), "c")).toEqual([q(1, 0)]);
    });

    it("two busy replicas split what the idle one lends; all busy: nothing is lent", () => {
      const shares = ["a", "b"].map((id) => shareOf([q(4), q(3)], seats("ab"), id, true));
      expect(shares[0]![0]!.maxConcurrent + shares[1]![0]!.maxConcurrent).toBe(4);
      expect(shares[0]![1]!.maxConcurrent + shares[1]![1]!.maxConcurrent).toBe(3);
      for (const id of ["a", "b", "c"])
        expect(shareOf([q(4), q(3)], seats("abc"), id, true)).toEqual(shareOf([q(4), q(3)], seats("abc"), id));
    });

    it("between them, the busy replicas hold exactly each querier's configured regular slots", () => {
      const queriers = [q(5, 2), q(1, 1), q(7, 0)];
      for (const busy of ["a", "ab", "bc", "abc", "c"])
        queriers.forEach((cfg, i) => {
          const held = [...busy].reduce((n, id) => n + shareOf(queriers, seats(busy), id, true)[i]!.maxConcurrent, 0);
          expect(held, `busy ${busy}, querier ${i}`).toBe(cfg.maxConcurrent);
        });
    });

    it("a busy replica that may not borrow yet (the others have not heard) keeps to its own share", () => {
      expect(shareOf([q(4, 2)], seats("a"), "a", false)).toEqual(shareOf([q(4, 2)], ["a", "b", "c"], "a"));
    });
  });
});
