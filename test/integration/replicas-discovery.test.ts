import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownerOf } from "../../src/frontend/replicas/owner.js";
import { type Identity, identitySigner } from "../../src/identity/signed-identity.js";
import { startDnsServer, type TestDnsServer } from "../support/dns-server.js";
import { startNats, type TestNats } from "../support/nats.js";
import { allSee, person, type Replica, startReplica, until } from "../support/replica.js";
import { type SlotQuerier, startSlotQueriersOnOnePort } from "../support/slot-querier.js";

// Three `fairgate frontend` processes sharing one nats-server, whose queriers are found by DNS: one name that a
// real DNS server on loopback answers (test/support/dns-server.ts) with the addresses of real HTTP queriers on
// 127.0.0.2–4, all on one port, as pods behind a Kubernetes headless service. The queriers count what runs on
// them at once and hold answers until the test releases them, so that properties are read at the queriers: the
// most running at once, and the order in which pieces arrive.

const SECRET = "d".repeat(32);
const NAME = "queriers.loki.test";
const MAX_CONCURRENT = 4;
const IDLE_ACTOR_SLOTS = 2;
const HOUR = 3600;
const T0 = Math.floor(1_700_000_000 / HOUR) * HOUR;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("several replicas in front of queriers found by DNS", () => {
  let nats: TestNats;
  let dns: TestDnsServer;
  let queriers: SlotQuerier[];
  let sign: (id: Identity) => Promise<string>;
  const replicas = new Map<string, Replica>();
  const ids = ["d-a", "d-b", "d-c"];
  const scratch = mkdtempSync(join(tmpdir(), "fairgate-replicas-dns-"));
  const hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

  beforeAll(async () => {
    [nats, dns, queriers, sign] = await Promise.all([
      startNats(),
      startDnsServer(),
      startSlotQueriersOnOnePort(hosts, () => -1),
      identitySigner({ secret: SECRET, ttl: 60_000 }),
    ]);
    dns.zone.set(NAME, { a: hosts.slice(0, 2) });
    const port = queriers[0]!.port;
    await Promise.all(
      ids.map(async (id) =>
        replicas.set(
          id,
          await startReplica({
            id,
            natsUrl: nats.url,
            prefix: `dns${process.pid}`,
            identitySecret: SECRET,
            heartbeatMs: 250,
            timeoutMs: 1000,
            scratch,
            frontend: {
              queriers: [
                {
                  url: `dns+${NAME}:${port}`,
                  max_concurrent: MAX_CONCURRENT,
                  idle_actor_slots: IDLE_ACTOR_SLOTS,
                  health_paths: ["/ready"],
                },
              ],
              tail_url: queriers[0]!.url,
              discovery: { refresh_interval: "200ms", resolvers: [dns.address], timeout: "2s" },
              health_check: { interval: "10s" },
              limits: { split_metric_queries_by_interval: "1h", max_query_parallelism: 32 },
              cache: { results: { enabled: false } },
            },
          }),
        ),
      ),
    );
    await allSee([...replicas.values()]);
  }, 120_000);

  afterAll(async () => {
    for (const q of queriers ?? []) q.answerMs = () => 0;
    await Promise.all([...replicas.values()].map((r) => r.proc.close()));
    await Promise.all([...(queriers ?? []).map((q) => q.close()), nats?.close(), dns?.close()]);
  });

  const ask = async (via: string, who: Identity, hours: number, offset = 0) => {
    const res = await fetch(`${replicas.get(via)!.url}/api/v1/query_range`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-fairgate-identity": await sign(who) },
      body: new URLSearchParams({
        query: "up",
        start: String(T0 + offset * HOUR),
        end: String(T0 + (offset + hours) * HOUR - 60),
        step: "60",
      }).toString(),
    });
    return { status: res.status, body: (await res.json()) as { data?: { result: { values: unknown[] }[] } } };
  };
  /** A tenant each replica owns. */
  const tenantOf = (owner: string) => {
    for (let i = 0; ; i++) if (ownerOf(`team-${i}`, ids) === owner) return `team-${i}`;
  };
  const notOwner = (owner: string) => ids.find((id) => id !== owner)!;
  const found = async (r: Replica) =>
    ((await (await fetch(`${r.admin}/debug/status`)).json()) as { queriers: { url: string }[] }).queriers.map(
      (q) => q.url,
    );
  const allFind = (urls: string[]) =>
    until(
      async () => {
        for (const r of replicas.values()) if ((await found(r)).sort().join() !== [...urls].sort().join()) return false;
        return true;
      },
      10_000,
      () => `want ${urls}`,
    );
  const held = () => queriers.reduce((n, q) => n + q.running, 0);
  const isLight = (actor: string) => actor.endsWith("light");

  it("N replicas together never run more on a discovered querier than its slots, as queriers come and go", async () => {
    await allFind(queriers.slice(0, 2).map((q) => q.url));
    for (const q of queriers) {
      q.answerMs = () => 30;
      q.maxRunning = 0;
    }
    // Every replica owns a flooding tenant, entered through another replica: all are busy, none lends.
    let stop = false;
    const failures: string[] = [];
    const load = ids.flatMap((owner, t) =>
      [0, 1].map(async (k) => {
        const tenant = tenantOf(owner);
        for (let i = 0; !stop; i++) {
          const res = await ask(notOwner(owner), person(tenant, `heavy${k}`), 6, 100 * t + i);
          if (res.status !== 200) failures.push(`${tenant}: ${res.status} ${JSON.stringify(res.body)}`);
        }
      }),
    );
    await until(
      () => queriers[0]!.seen.length + queriers[1]!.seen.length > 40,
      20_000,
      () => "no load",
    );
    // The load's start is a change (replicas that lent their shares take them back): count from here on.
    await sleep(1500);
    for (const q of queriers) q.maxRunning = q.running;
    // A querier joins: every replica finds it and gives it work; then one leaves and drains.
    dns.zone.set(NAME, { a: hosts });
    await allFind(queriers.map((q) => q.url));
    await until(
      () => queriers[2]!.seen.length > 10,
      20_000,
      () => "the new querier got no work",
    );
    dns.zone.set(NAME, { a: hosts.slice(1) });
    await allFind(queriers.slice(1).map((q) => q.url));
    const leftAt = queriers[0]!.seen.length;
    await until(
      () => queriers[1]!.seen.length + queriers[2]!.seen.length > 60,
      20_000,
      () => "no load after",
    );
    stop = true;
    await Promise.all(load);
    expect(failures).toEqual([]);
    // Nothing new reached the querier that left once every replica had dropped it.
    expect(queriers[0]!.seen.length).toBe(leftAt);
    for (const q of queriers)
      expect(q.maxRunning, `${q.url} ran at most its slots at once`).toBeLessThanOrEqual(
        MAX_CONCURRENT + IDLE_ACTOR_SLOTS,
      );
    // All busy: 3 regular slots per querier (the fourth is the third replica's idle-actor slot; see budget.ts).
    expect(Math.max(...queriers.map((q) => q.maxRunning)), "the load filled a querier").toBeGreaterThanOrEqual(
      MAX_CONCURRENT - 1,
    );
    dns.zone.set(NAME, { a: hosts.slice(0, 2) });
    await allFind(queriers.slice(0, 2).map((q) => q.url));
  }, 120_000);

  it("whichever replica owns the tenant, a light user's query starts at once beside a flood holding every slot", {
    timeout: 120_000,
  }, async () => {
    // One querier: 2 idle-actor slots over 3 replicas, which whole slots cannot give every replica. (4 + 2 slots: each
    // replica's hand of 2 is a regular slot, where the flood runs, and an idle-actor slot.)
    dns.zone.set(NAME, { a: hosts.slice(0, 1) });
    await allFind(queriers.slice(0, 1).map((q) => q.url));
    try {
      for (const owner of ids) {
        const tenant = tenantOf(owner);
        for (const q of queriers) q.answerMs = (actor) => (isLight(actor) ? 0 : -1);
        // The flood: 24 pieces, far more than every regular slot; all held at the querier until the end.
        const flood = ask(notOwner(owner), person(tenant, "heavy"), 24, 1000);
        await until(
          () => held() >= 2,
          10_000,
          () => `no flood on ${owner}`,
        );
        // Past a membership timeout and a heartbeat: the other replicas, idle, lend their regular slots and the
        // flood holds those too. Every regular slot is then the flood's; only an idle-actor slot is left.
        await sleep(2500);
        // A light user of the same tenant, through a replica that does not own it: no flood piece can end, so it
        // answers only if it started beside them.
        const light = await Promise.race([
          ask(notOwner(owner), person(tenant, "light"), 1, 2000),
          sleep(10_000).then(() => ({ status: "still waiting behind the flood after 10 s" })),
        ]);
        expect(light.status, `owner ${owner}`).toBe(200);
        for (const q of queriers) q.answerMs = () => 0;
        for (const q of queriers) q.release();
        expect((await flood).status).toBe(200);
      }
    } finally {
      for (const q of queriers) q.answerMs = () => 0;
      for (const q of queriers) q.release();
    }
    dns.zone.set(NAME, { a: hosts.slice(0, 2) });
    await allFind(queriers.slice(0, 2).map((q) => q.url));
  });

  // Issue 21: asking again at once (0.1 s apart) through a non-owner, a light user lost the slot freed after its first
  // piece to the flood. Flood pieces here take 1 s each, as long as their estimate; light pieces are held until both
  // of a query's pieces run. Once the owner holds the light query's second piece queued, no flood piece may start
  // before it (one is allowed over 7 rounds: the queue is read over HTTP, a moment late on a busy machine).
  it("a light user asking back to back through a non-owner gets the next freed slot, round after round", async () => {
    const owner = ids[0]!;
    const tenant = tenantOf(owner);
    for (const q of queriers) q.answerMs = (actor) => (isLight(actor) ? -1 : 1000);
    const arrivals = () => queriers.flatMap((q) => q.seen).sort((a, b) => a.at - b.at);
    const flood = Array.from({ length: 3 }, (_, i) =>
      ask(notOwner(owner), person(tenant, "heavy"), 24, 3000 + 100 * i),
    );
    await until(
      () => held() >= 4,
      10_000,
      () => "no flood",
    );
    await sleep(1500); // the flood has run a while: its pieces' estimates are their real 1 s
    const floodBetween: number[] = [];
    try {
      for (let round = 0; round < 8; round++) {
        const from = T0 + (4000 + 10 * round) * HOUR;
        const light = ask(notOwner(owner), person(tenant, "light"), 2, 4000 + 10 * round);
        const mine = () => arrivals().filter((s) => isLight(s.actor) && s.start >= from);
        // From when the owner is seen holding the second piece queued (or it has started): a flood piece that
        // starts after that took a slot the light piece was waiting for.
        let waitingSince = Number.POSITIVE_INFINITY;
        await until(
          async () => {
            if (mine().length === 2) return true;
            const queue = await (await fetch(`${replicas.get(owner)!.admin}/debug/queue`)).text();
            if (queue.includes('"name":"light","queued":1')) waitingSince = Math.min(waitingSince, performance.now());
            return false;
          },
          15_000,
          () => `round ${round}: the light query's pieces did not both start`,
        );
        const second = mine()[1]!.at;
        // Round 0 is the user's first query (it has been idle for ever); from round 1 on, it asks again at once.
        if (round > 0)
          floodBetween.push(arrivals().filter((s) => !isLight(s.actor) && s.at > waitingSince && s.at < second).length);
        // Its pieces answer; the next round asks at once.
        for (const q of queriers) q.release(isLight);
        expect((await light).status).toBe(200);
      }
    } finally {
      for (const q of queriers) q.answerMs = () => 0;
      for (const q of queriers) q.release();
    }
    expect(
      floodBetween.reduce((a, b) => a + b, 0),
      `flood pieces between each light query's two: ${floodBetween}`,
    ).toBeLessThanOrEqual(1);
    for (const q of queriers) q.answerMs = () => 0;
    expect((await Promise.all(flood)).map((a) => a.status)).toEqual([200, 200, 200]);
  }, 120_000);
});
