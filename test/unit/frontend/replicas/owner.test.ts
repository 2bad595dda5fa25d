import { describe, expect, it } from "vitest";
import { ownerOf } from "../../../../src/frontend/replicas/owner.js";

const tenants = Array.from({ length: 3000 }, (_, i) => `tenant-${i}`);
const replicas = ["r-a", "r-b", "r-c", "r-d", "r-e"];
const owners = (live: string[]) => new Map(tenants.map((t) => [t, ownerOf(t, live)]));

describe("ownerOf (rendezvous hashing)", () => {
  it("is stable: the same owner whatever the order of the live list", () => {
    for (const t of tenants.slice(0, 200)) {
      const o = ownerOf(t, replicas);
      expect(ownerOf(t, [...replicas].reverse())).toBe(o);
      expect(ownerOf(t, [...replicas.slice(2), ...replicas.slice(0, 2)])).toBe(o);
    }
  });

  it("has no owner without replicas, and the only one with one", () => {
    expect(ownerOf("a", [])).toBeUndefined();
    expect(ownerOf("a", ["solo"])).toBe("solo");
  });

  it("is balanced: each of 5 replicas owns about a fifth of 3000 tenants", () => {
    const counts = new Map<string, number>();
    for (const o of owners(replicas).values()) counts.set(o!, (counts.get(o!) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(replicas);
    for (const n of counts.values()) expect(Math.abs(n - 600)).toBeLessThan(90); // ±15 %
  });

  it("removing one of N replicas moves only its tenants; adding it back moves them home again", () => {
    const before = owners(replicas);
    const after = owners(replicas.filter((r) => r !== "r-c"));
    let moved = 0;
    for (const t of tenants) {
      if (before.get(t) === "r-c") {
        moved++;
        expect(after.get(t)).not.toBe("r-c");
      } else expect(after.get(t)).toBe(before.get(t));
    }
    expect(moved).toBeGreaterThan(0);
    expect(owners(replicas)).toEqual(before);
  });

  it("gives a federated tenant key its own home: not always the home of one of its parts", () => {
    const pairs = tenants.slice(0, 300).map((t, i) => [t, tenants[i + 300]!] as const);
    const own = pairs.filter(([a, b]) => {
      const home = ownerOf(`${a}|${b}`, replicas);
      return home !== ownerOf(a, replicas) && home !== ownerOf(b, replicas);
    });
    // With 5 replicas about (3/5)² = 36 % of the pairs live apart from both parts.
    expect(own.length).toBeGreaterThan(60);
  });
});
