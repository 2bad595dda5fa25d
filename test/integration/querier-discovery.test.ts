import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseQuerierAddress } from "../../src/config/querier-address.js";
import { parseConfig } from "../../src/config/load.js";
import { createFrontend, type Frontend } from "../../src/frontend/app.js";
import { lookupQueriers } from "../../src/frontend/dispatch/discovery.js";
import { type TestDnsServer, startDnsServer } from "../support/dns-server.js";
import { ask, metricValue } from "../support/frontend-ask.js";
import { until } from "../support/replica.js";
import { type SlotQuerier, startSlotQueriersOnOnePort } from "../support/slot-querier.js";

// Queriers behind DNS names that a real DNS server on loopback answers (test/support/dns-server.ts: UDP, DNS wire
// format), changed by the test between fairgate's refreshes; real HTTP queriers at the addresses it gives.

const HOUR = 3600;
const T0 = Math.floor(1_700_000_000 / HOUR) * HOUR;
const NAME = "queriers.loki.test";

/** A loopback UDP port with nothing behind it: a resolver that cannot be reached (the kernel refuses at once). */
async function deadResolver(): Promise<string> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}

const dnsEntry = (a: string) => {
  const parsed = parseQuerierAddress(a);
  if (parsed.kind !== "dns") throw new Error(`${a} is not a dns entry`);
  return parsed;
};

describe("querier lookups against a real DNS server", () => {
  let dns: TestDnsServer | undefined;
  afterEach(async () => {
    await dns?.close();
    dns = undefined;
  });

  it("finds A and AAAA addresses, SRV targets with their ports, and SRV targets as named (dnssrvnoa+)", async () => {
    dns = await startDnsServer(
      new Map([
        [NAME, { a: ["127.0.0.2", "127.0.0.3"], aaaa: ["fd00::7"] }],
        [
          "_http._tcp.queriers.loki.test",
          {
            srv: [
              { target: "q-0.loki.test", port: 3100 },
              { target: "q-1.loki.test", port: 3101 },
            ],
          },
        ],
        ["q-0.loki.test", { a: ["10.1.0.1"] }],
        ["q-1.loki.test", { aaaa: ["fd00::1"] }],
      ]),
    );
    const opts = { resolvers: [dns.address], timeoutMs: 2000 };
    expect(await lookupQueriers(dnsEntry(`dns+https://${NAME}:8443/prometheus`), opts)).toEqual([
      "https://127.0.0.2:8443/prometheus",
      "https://127.0.0.3:8443/prometheus",
      "https://[fd00::7]:8443/prometheus",
    ]);
    expect(await lookupQueriers(dnsEntry("dnssrv+_http._tcp.queriers.loki.test"), opts)).toEqual([
      "http://10.1.0.1:3100",
      "http://[fd00::1]:3101",
    ]);
    expect(await lookupQueriers(dnsEntry("dnssrvnoa+_http._tcp.queriers.loki.test"), opts)).toEqual([
      "http://q-0.loki.test:3100",
      "http://q-1.loki.test:3101",
    ]);
    expect(dns.asked).toContainEqual({ type: "srv", name: "_http._tcp.queriers.loki.test" });
  });

  it("a name without records is an error (NXDOMAIN, or no data), never an empty set", async () => {
    dns = await startDnsServer(new Map([["empty.loki.test", {}]]));
    const opts = { resolvers: [dns.address], timeoutMs: 2000 };
    await expect(lookupQueriers(dnsEntry("dns+gone.loki.test:3100"), opts)).rejects.toThrow(/has no A or AAAA records/);
    await expect(lookupQueriers(dnsEntry("dns+empty.loki.test:3100"), opts)).rejects.toThrow(/has no A or AAAA/);
    await expect(lookupQueriers(dnsEntry("dnssrv+_x._tcp.empty.loki.test"), opts)).rejects.toThrow(/has no SRV/);
  });

  it("one resolver of two unreachable: the other answers; the only one unreachable: the lookup fails", async () => {
    dns = await startDnsServer(new Map([[NAME, { a: ["127.0.0.2"] }]]));
    const dead = await deadResolver();
    const entry = dnsEntry(`dns+${NAME}:3100`);
    expect(await lookupQueriers(entry, { resolvers: [dead, dns.address], timeoutMs: 3000 })).toEqual([
      "http://127.0.0.2:3100",
    ]);
    await expect(lookupQueriers(entry, { resolvers: [dead], timeoutMs: 1000 })).rejects.toThrow(
      /A\/AAAA lookup|no answer/,
    );
  });
});

describe("a frontend whose queriers are found by DNS", () => {
  let dns: TestDnsServer;
  let queriers: SlotQuerier[] = [];
  let frontend: Frontend | undefined;
  let logs: string[] = [];

  afterEach(async () => {
    frontend?.pool.close();
    await frontend?.close();
    frontend = undefined;
    await Promise.all(queriers.map((q) => q.close()));
    queriers = [];
    await dns?.close();
  });

  /** `resolvers`: before the test's DNS server (one that cannot be reached). */
  async function setUp(addresses: string[], resolvers: string[] = [], answerMs?: (actor: string) => number, slots = 1) {
    queriers = await startSlotQueriersOnOnePort(["127.0.0.2", "127.0.0.3"], answerMs);
    dns = await startDnsServer(new Map(addresses.length ? [[NAME, { a: addresses }]] : []));
    const config = parseConfig({
      frontend: {
        queriers: [{ url: `dns+${NAME}:${queriers[0]!.port}`, max_concurrent: slots, idle_actor_slots: 0 }],
        tail_url: queriers[0]!.url,
        discovery: { refresh_interval: "100ms", resolvers: [...resolvers, dns.address], timeout: "2s" },
        health_check: { interval: "10s" },
        limits: { split_metric_queries_by_interval: "1h" },
        cache: { results: { enabled: false } },
      },
    }).frontend!;
    // This frontend's lines only: a lookup of the previous test's may still end after its close.
    const mine: string[] = [];
    logs = mine;
    frontend = createFrontend(config, { log: (line) => mine.push(line) });
    return frontend;
  }
  const active = () => frontend!.pool.queriers.filter((q) => !q.draining).map((q) => q.url);
  const hours = (n: number, offset = 0) => ({
    query: "up",
    start: String(T0 + offset * HOUR),
    end: String(T0 + (offset + n) * HOUR - 60),
    step: "60",
  });
  const ready = async () => (await frontend!.app.fetch(new Request("http://f/ready"))).status;

  it("a querier added between refreshes gets work; /ready waits for the first good lookup", async () => {
    await setUp([]);
    const [q2, q3] = queriers as [SlotQuerier, SlotQuerier];
    // Nothing found yet: not ready, and says why.
    await until(
      () => logs.some((l) => l.includes("no querier found yet")),
      5000,
      () => logs.join("\n"),
    );
    const notReady = await frontend!.app.fetch(new Request("http://f/ready"));
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toMatch(
      new RegExp(`querier discovery found nothing yet: dns\\+${NAME}.*has no A or AAAA`),
    );

    dns.zone.set(NAME, { a: ["127.0.0.2"] });
    await until(
      async () => (await ready()) === 200,
      5000,
      () => logs.join("\n"),
    );
    expect((await ask(frontend!, hours(4))).status).toBe(200);
    expect([q2.seen.length, q3.seen.length]).toEqual([4, 0]);

    dns.zone.set(NAME, { a: ["127.0.0.2", "127.0.0.3"] });
    await until(
      () => active().length === 2,
      5000,
      () => logs.join("\n"),
    );
    expect(logs.join("\n")).toContain(`new: ${q3.url}`);
    // Eight pieces on two queriers of one slot each, 20 ms apiece: the new querier takes its part.
    q2.answerMs = q3.answerMs = () => 20;
    const answer = await ask(frontend!, hours(8, 10));
    expect(answer.status).toBe(200);
    expect(answer.body.data.result[0].values).toHaveLength(8);
    expect(q3.seen.length).toBeGreaterThan(0);
    expect(q2.seen.length + q3.seen.length).toBe(12);
    for (const q of queriers) expect(q.maxRunning, q.url).toBe(1);
  });

  it("a removed querier drains: its running sub-query completes, it gets no new work, then it goes", async () => {
    // Two slots per querier: the draining one keeps a free slot, and must still get nothing new.
    await setUp(["127.0.0.2", "127.0.0.3"], [], () => -1, 2);
    const [q2, q3] = queriers as [SlotQuerier, SlotQuerier];
    await until(
      () => active().length === 2,
      5000,
      () => logs.join("\n"),
    );
    // Two pieces, one on each querier (the least loaded first), both held there.
    const first = ask(frontend!, hours(2));
    await until(
      () => q2.running === 1 && q3.running === 1,
      5000,
      () => JSON.stringify(frontend!.pool.queriers),
    );

    dns.zone.set(NAME, { a: ["127.0.0.2"] });
    await until(
      () => frontend!.pool.queriers.some((q) => q.draining),
      5000,
      () => logs.join("\n"),
    );
    expect(logs.join("\n")).toContain(`draining: ${q3.url}`);
    // A second query runs wholly on the querier that stays, while the draining one still holds the first's piece.
    q2.answerMs = () => 0;
    q2.release();
    const second = await ask(frontend!, hours(2, 10));
    expect(second.status).toBe(200);
    expect(second.body.data.result[0].values).toHaveLength(2);
    expect([q2.seen.length, q3.seen.length, q3.running]).toEqual([3, 1, 1]);
    // The draining querier's sub-query completes: the first query answers whole.
    q3.release();
    const a1 = await first;
    expect(a1.status).toBe(200);
    expect(a1.body.data.result[0].values).toHaveLength(2);
    // Its last sub-query over, the querier is forgotten.
    await until(
      () => frontend!.pool.queriers.length === 1,
      5000,
      () => JSON.stringify(frontend!.pool.queriers),
    );
    expect(frontend!.pool.queriers[0]!.url).toBe(q2.url);
  });

  it("one resolver of two unreachable: lookups still work", async () => {
    await setUp(["127.0.0.2"], [await deadResolver()]);
    await until(
      async () => (await ready()) === 200,
      5000,
      () => logs.join("\n"),
    );
    dns.zone.set(NAME, { a: ["127.0.0.2", "127.0.0.3"] });
    await until(
      () => active().length === 2,
      5000,
      () => logs.join("\n"),
    );
    expect((await ask(frontend!, hours(2))).status).toBe(200);
  });

  it("the only resolver unreachable: the last good set stays, and the failure is logged and counted", async () => {
    await setUp(["127.0.0.2", "127.0.0.3"]);
    await until(
      () => active().length === 2,
      5000,
      () => logs.join("\n"),
    );
    await dns.close();
    await until(
      () => logs.some((l) => l.includes("keeping the 2 querier(s) found before")),
      5000,
      () => logs.join("\n"),
    );
    expect(
      await metricValue(
        frontend!,
        "fairgate_querier_discovery_failures_total",
        `entry="dns+${NAME}:${queriers[0]!.port}"`,
      ),
    ).toBeGreaterThan(0);
    expect(active()).toHaveLength(2);
    expect(await ready()).toBe(200);
    queriers[0]!.answerMs = queriers[1]!.answerMs = () => 20;
    const answer = await ask(frontend!, hours(4));
    expect(answer.status).toBe(200);
    expect(queriers.every((q) => q.seen.length > 0)).toBe(true);
    dns = await startDnsServer(); // for afterEach
  });
});
