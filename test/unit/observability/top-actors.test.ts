import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { TopActors } from "../../../src/observability/top-actors.js";

/** The counters' series as "tenant/actor value". */
async function series(registry: Registry, name: string): Promise<string[]> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name)!;
  return (metric.values as { labels: Record<string, string>; value: number }[])
    .map((v) => `${v.labels.tenant}/${v.labels.actor} ${v.value}`)
    .sort();
}

describe("per-actor counters", () => {
  it("give at most n actors a series, the rest count as other: n + 1 series", async () => {
    const registry = new Registry();
    const top = new TopActors(2, registry, () => 0);
    for (let i = 0; i < 50; i++) top.count("team-a", `users|${i % 10}`, 1000);
    expect(await series(registry, "fairgate_actor_queries_total")).toEqual([
      "/other 40",
      "team-a/users|0 5",
      "team-a/users|1 5",
    ]);
    expect(await series(registry, "fairgate_actor_querier_seconds_total")).toEqual([
      "/other 40",
      "team-a/users|0 5",
      "team-a/users|1 5",
    ]);
  });

  it("give a series to an actor that used more querier time recently than the least of those with one", async () => {
    const registry = new Registry();
    const recent = new Map<string, number>([
      ["users|a", 100],
      ["users|b", 500],
    ]);
    const top = new TopActors(1, registry, (_tenant, actor) => recent.get(actor) ?? 0);
    top.count("t", "users|a", 100);
    top.count("t", "users|b", 500); // used more than a: takes a's place
    top.count("t", "users|a", 100); // a now counts as other
    expect(await series(registry, "fairgate_actor_queries_total")).toEqual(["/other 1", "t/users|b 1"]);
    recent.set("users|c", 200);
    top.count("t", "users|c", 250); // less than b: other
    expect(await series(registry, "fairgate_actor_querier_seconds_total")).toEqual(["/other 0.35", "t/users|b 0.5"]);
  });

  it("with n = 0, everything counts as other", async () => {
    const registry = new Registry();
    const top = new TopActors(0, registry, () => 1);
    top.count("t", "users|a", 10);
    expect(await series(registry, "fairgate_actor_queries_total")).toEqual(["/other 1"]);
  });
});
