import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Identity, identitySigner } from "../../src/identity/signed-identity.js";
import { startNats, type TestNats } from "../support/nats.js";
import { freePort, type Supervised, startSupervised } from "../support/supervised.js";
import { startTestQuerier, type TestQuerier } from "../support/test-querier.js";

// Asynchronous queries shared by frontend replicas through a real nats-server (JetStream): each
// replica is its own process (`fairgate frontend`, as bin/fairgate.js runs it), so that one can be
// SIGKILLed mid-job. Identities are signed as the edge signs them. Each group of replicas uses its own
// stream and bucket prefix on the one server.

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const SECRET = "n".repeat(32);
const HOUR = 3600;
const T0 = Math.floor(1_700_000_000 / HOUR) * HOUR;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `ok` outside a test (expect.poll works only inside one). */
async function until(ok: () => boolean, timeoutMs: number, explain: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms:\n${explain()}`);
    await sleep(50);
  }
}

const people: Record<"alice" | "bob" | "carol", Identity> = {
  alice: { subject: "alice-hash", tenants: ["team-a"], actorPath: "users|alice", scopes: [] },
  bob: { subject: "bob-hash", tenants: ["team-b"], actorPath: "users|bob", scopes: [] },
  carol: { subject: "carol-hash", tenants: ["team-a"], actorPath: "users|carol", scopes: [] },
};
type Who = keyof typeof people;

interface Replica {
  url: string;
  proc: Supervised;
}

describe("asynchronous queries on NATS JetStream, shared by replicas", () => {
  let nats: TestNats;
  let q: TestQuerier;
  let sign: (id: Identity) => Promise<string>;
  const scratch = mkdtempSync(join(tmpdir(), "fairgate-async-nats-"));
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    [nats, q, sign] = await Promise.all([
      startNats(),
      startTestQuerier(0),
      identitySigner({ secret: SECRET, ttl: 60_000 }),
    ]);
    cleanup.push(
      () => nats.close(),
      () => q.close(),
    );
  });
  afterAll(async () => {
    for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
  });

  /** A `fairgate frontend` process sharing the NATS store under `prefix`. */
  async function replica(prefix: string, async: Record<string, unknown> = {}): Promise<Replica> {
    const port = await freePort();
    const file = join(scratch, `${prefix}-${port}.yaml`);
    const config = {
      server: { listen: `127.0.0.1:${port}` },
      identity: { secret: SECRET },
      log: { level: "warn" },
      nats: { servers: [nats.url], prefix, timeout: "2s" },
      frontend: {
        queriers: [{ url: q.url, max_concurrent: 8 }],
        health_check: { interval: "10s" },
        limits: { split_metric_queries_by_interval: "1h" },
        cache: { results: { enabled: false } },
        async: {
          heartbeat: "1s",
          job_workers: 2,
          max_jobs_per_actor: 2,
          ...async,
          store: "nats",
        },
      },
    };
    writeFileSync(file, JSON.stringify(config)); // YAML is a superset of JSON
    const proc = startSupervised({
      command: process.execPath,
      args: ["--import", "tsx", MAIN, "frontend", "--config", file],
      scratch: join(scratch, `run-${port}`),
    });
    cleanup.push(() => proc.close());
    await until(() => proc.output().includes(`listening on http://127.0.0.1:${port}`), 30_000, proc.output);
    return { url: `http://127.0.0.1:${port}`, proc };
  }

  const call = async (r: Replica, path: string, who: Who = "alice", method = "GET") =>
    fetch(`${r.url}${path}`, { method, headers: { "x-fairgate-identity": await sign(people[who]) } });

  const range = (hours: number, step = "60") => ({
    query: "sum(rate(http_requests_total[5m]))",
    start: String(T0),
    end: String(T0 + hours * HOUR),
    step,
  });

  async function submit(r: Replica, params: Record<string, string>, who: Who = "alice") {
    const res = await call(r, `/api/v1/query_range?${new URLSearchParams({ ...params, async: "true" })}`, who);
    const text = await res.text();
    expect(res.status, text).toBe(202);
    const id = (JSON.parse(text) as { data: { id: string } }).data.id;
    return { id, ticket: `/fairgate/api/v1/async/${id}` };
  }

  const state = async (r: Replica, id: string, who: Who = "alice") => {
    const res = await call(r, `/fairgate/api/v1/async/${id}/status`, who);
    return res.status === 200 ? ((await res.json()) as { state: string }).state : `HTTP ${res.status}`;
  };

  /**
   * Polls until the ticket answers something else than 204 (or 503: the store is away for a moment,
   * try again); also returns every state seen meanwhile.
   */
  async function poll(r: Replica, id: string, who: Who = "alice", timeoutMs = 30_000) {
    const states: string[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await call(r, `/fairgate/api/v1/async/${id}`, who);
      if (res.status !== 204 && res.status !== 503) return { status: res.status, body: await res.text(), states };
      states.push(res.status === 503 ? "HTTP 503" : await state(r, id, who));
      if (Date.now() > deadline) throw new Error(`job ${id} still running after ${timeoutMs} ms: ${states.join()}`);
      await sleep(50);
    }
  }

  const sync = async (r: Replica, params: Record<string, string>) => {
    const res = await call(r, `/api/v1/query_range?${new URLSearchParams(params)}`);
    expect(res.status).toBe(200);
    return res.text();
  };

  describe("two replicas, A and B", () => {
    let a: Replica;
    let b: Replica;
    const prefix = `t${randomBytes(4).toString("hex")}`;
    beforeAll(async () => {
      [a, b] = await Promise.all([
        replica(prefix, { max_jobs_per_actor: 1 }),
        replica(prefix, { max_jobs_per_actor: 1 }),
      ]);
    });

    it("submitted on A, polled on B: 204 while it runs, then the synchronous answer's bytes", async () => {
      q.delayMs = 300;
      const { id } = await submit(a, range(2));
      expect((await call(b, `/fairgate/api/v1/async/${id}`)).status).toBe(204);
      const done = await poll(b, id);
      expect(done.status, done.body).toBe(200);
      // The last status may already say done: it is read after the poll's 204.
      expect(
        done.states.every((s) => /^(queued|running|done)$/.test(s)),
        done.states.join(),
      ).toBe(true);
      expect(done.states).toContain("running");
      q.delayMs = 0;
      expect(done.body).toBe(await sync(b, range(2)));
      expect(await (await call(a, `/fairgate/api/v1/async/${id}`)).text()).toBe(done.body);
    });

    it("cancelled on B: the replica running it aborts its sub-queries at once, and the ticket is gone", async () => {
      q.delayMs = -1;
      const before = { seen: q.seen.length, aborted: q.aborted };
      const { id, ticket } = await submit(a, range(2));
      await expect.poll(() => q.seen.length - before.seen).toBe(2);
      expect((await call(b, ticket, "alice", "DELETE")).status).toBe(204);
      await expect.poll(() => q.aborted - before.aborted, { timeout: 2_000 }).toBe(2);
      for (const r of [a, b]) {
        expect((await call(r, ticket)).status).toBe(404);
        expect(await state(r, id)).toBe("HTTP 404");
      }
    });

    it("someone else's ticket is unknown on every replica; limits count the jobs of all replicas", async () => {
      q.delayMs = -1;
      const { id, ticket } = await submit(a, range(1));
      for (const r of [a, b])
        for (const who of ["bob", "carol"] as const) {
          expect((await call(r, ticket, who)).status).toBe(404);
          expect((await call(r, `${ticket}/status`, who)).status).toBe(404);
          expect((await call(r, ticket, who, "DELETE")).status).toBe(404);
        }
      // max_jobs_per_actor is 1: alice's second job is refused on the other replica too.
      const again = await call(b, `/api/v1/query_range?${new URLSearchParams({ ...range(1), async: "true" })}`);
      expect(again.status).toBe(429);
      expect(((await again.json()) as { error: string }).error).toMatch(/max_jobs_per_actor/);
      expect(await state(b, id)).toMatch(/^(queued|running)$/);
      expect((await call(b, ticket, "alice", "DELETE")).status).toBe(204);
      const last = await submit(b, range(1)); // the cancel freed the slot
      expect((await call(a, last.ticket, "alice", "DELETE")).status).toBe(204);
    });

    it("an answer larger than one NATS message (1 MiB) is stored in chunks and comes back intact", async () => {
      q.delayMs = 0;
      q.series = 20; // 20 series × 10,801 points: several MiB of JSON
      try {
        const params = range(3, "1");
        const { id } = await submit(b, params, "carol");
        const done = await poll(a, id, "carol");
        expect(done.status, done.body.slice(0, 300)).toBe(200);
        const direct = await sync(a, params);
        expect(direct.length).toBeGreaterThan(2 * 1024 * 1024);
        expect(done.body.length).toBe(direct.length);
        expect(done.body === direct).toBe(true); // not toBe: a diff of MiB-long strings is no help
      } finally {
        q.series = 1;
      }
    });

    it("a malformed or foreign message on the work queue is dead-lettered with a log line; jobs go on", async () => {
      const nc = await connect({ servers: nats.url });
      try {
        for (const junk of ["{not json", JSON.stringify({ v: 1, id: "x".repeat(24), spec: { api: "sql" } })])
          await jetstream(nc).publish(`${prefix}.jobs`, junk);
      } finally {
        await nc.close();
      }
      const logs = () => a.proc.output() + b.proc.output();
      await expect.poll(() => logs().match(/dead-lettered/g)?.length ?? 0, { timeout: 5_000 }).toBe(2);
      expect(logs()).toMatch(/not a JSON job/);
      q.delayMs = 0;
      const { id } = await submit(a, range(1));
      expect((await poll(b, id)).status).toBe(200);
    });

    it("nats-server restarted mid-job: the job completes, with the synchronous answer", async () => {
      q.delayMs = 1500;
      const { id } = await submit(a, range(2));
      await expect.poll(() => q.seen.length > 0).toBe(true);
      await nats.kill();
      await sleep(500);
      await nats.start();
      const done = await poll(b, id);
      expect(done.status, done.body).toBe(200);
      expect(done.states).not.toContain("failed");
      q.delayMs = 0;
      expect(done.body).toBe(await sync(b, range(2)));
    });

    it("NATS unreachable at submit: 503 with Retry-After, and nothing half-stored", async () => {
      const keys = async () => {
        const nc = await connect({ servers: nats.url });
        try {
          const kv = await new Kvm(nc).open(`${prefix}_records`);
          const all: string[] = [];
          for await (const k of await kv.keys("job.>")) all.push(k);
          return all.length;
        } finally {
          await nc.close();
        }
      };
      const before = await keys();
      await nats.kill();
      try {
        const res = await call(a, `/api/v1/query_range?${new URLSearchParams({ ...range(1), async: "true" })}`);
        const text = await res.text();
        expect(res.status, text).toBe(503);
        expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
        expect(text).toMatch(/async store is unavailable/);
      } finally {
        await nats.start();
      }
      expect(await keys()).toBe(before);
      // Nor was a slot kept: alice's one job (max_jobs_per_actor: 1) can be submitted.
      q.delayMs = 0;
      await expect
        .poll(
          async () =>
            (await call(a, `/api/v1/query_range?${new URLSearchParams({ ...range(1), async: "true" })}`)).status,
          {
            timeout: 10_000,
          },
        )
        .toBe(202);
    });
  });

  it("a replica SIGKILLed mid-job: another takes the job after the ack wait and stores one answer", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}`;
    q.delayMs = -1;
    const victim = await replica(prefix);
    const before = q.seen.length;
    const { id } = await submit(victim, range(2));
    await expect.poll(() => q.seen.length - before).toBe(2); // the victim runs it: no other replica yet
    const heir = await replica(prefix);
    expect(await state(heir, id)).toBe("running");
    process.kill(-victim.proc.pid, "SIGKILL");
    q.delayMs = 200;
    const done = await poll(heir, id);
    expect(done.status, done.body).toBe(200);
    expect(done.states).not.toContain("failed");
    q.delayMs = 0;
    expect(done.body).toBe(await sync(heir, range(2)));
    // One answer in the Object Store: the heir's (the victim never finished its attempt).
    const nc = await connect({ servers: nats.url });
    try {
      const names: string[] = [];
      for (const info of await (await new Objm(nc).open(`${prefix}_answers`)).list()) names.push(info.name);
      expect(names.filter((n) => n.startsWith(`${id}.`))).toEqual([`${id}.2`]);
    } finally {
      await nc.close();
    }
  });
});
