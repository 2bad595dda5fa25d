import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, type KvWatchEntry, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { MembershipConfig } from "../../config/schema.js";
import { connectNats, keepFor } from "../nats/connect.js";

/** A replica as the others know it. */
export interface Member {
  id: string;
  /** Where its listener is reached (membership.advertise_url). */
  url: string;
  /** When it started (ms since the epoch). */
  started: number;
  /**
   * Whether it has sub-queries of its own tenants to run (or had since its last heartbeat). A replica that is not
   * busy lends its share of the queriers' regular slots to the busy ones (budget.ts). Unknown counts as busy.
   */
  busy?: boolean;
  /** Its heartbeats, counted: tells this replica's own news from an older echo. */
  beat?: number;
}

const defaultReplicaId = () =>
  `${hostname().replace(/[^A-Za-z0-9_-]/g, "_")}-${process.pid}-${randomBytes(3).toString("hex")}`;

/**
 * The live replicas, kept in a NATS KV bucket. Each replica puts its Member under its ID every heartbeat and
 * watches the bucket. A member is live while its last put is younger than `timeout`, checked here on a timer:
 * the bucket's max age (= timeout) drops a silent member's key on the server, but nats-server 2.9 sends no
 * delete when it does. A replica that stops cleanly deletes its key, and the others see it at once. This
 * replica always counts itself live; while NATS is away it keeps the last live set it knew.
 */
export class Membership {
  readonly self: Member;
  readonly #members = new Map<string, { member: Member; seenAt: number }>();
  readonly #listeners: ((live: Member[]) => void)[] = [];
  readonly #timers: ReturnType<typeof setInterval>[];
  readonly #nc: Promise<NatsConnection>;
  #kv?: KV;
  #connected = false;
  #closed = false;
  #left = false;
  #lastLive = "";
  #lastTick: number;
  #beat = 0;
  /** Busy since the heartbeat numbered so; the others have heard it once that heartbeat came back. */
  #busySince = 0;
  /** When this replica's busy heartbeat came back (undefined: not yet, or not busy). */
  #heardAt?: number;
  #lastWorkAt = 0;
  #hasWork: () => boolean = () => false;

  constructor(
    readonly config: MembershipConfig,
    readonly log: (line: string) => void,
    /** The clock every age and timeout here is measured by. */
    readonly now: () => number = Date.now,
  ) {
    this.#lastTick = now();
    this.self = { id: config.replica_id ?? defaultReplicaId(), url: config.advertise_url, started: now(), busy: false };
    this.#lastLive = this.self.id;
    // Heartbeats; and a member that fell silent is dropped within a quarter heartbeat of its timeout.
    this.#timers = [
      setInterval(() => void this.#heartbeat(), config.heartbeat),
      setInterval(() => this.#expire(), Math.max(50, config.heartbeat / 4)),
      setTimeout(() => {
        if (!this.#kv)
          log(
            `membership: NATS (${config.nats.servers.join(", ")}) not reachable yet: serving as a single replica ` +
              "(all tenants, all querier slots) until it is",
          );
      }, config.nats.timeout),
    ];
    for (const t of this.#timers) t.unref?.();
    this.#nc = connectNats(config.nats, "membership", log);
    void this.#run();
  }

  /** Told how to see whether this replica's queue has sub-queries queued or running. */
  trackWork(hasWork: () => boolean): void {
    this.#hasWork = hasWork;
  }

  /** A sub-query arrived for this replica's querier pool: busy from now on, and the others are told at once. */
  working(): void {
    this.#lastWorkAt = this.now();
    if (this.self.busy) return;
    this.self.busy = true;
    this.#heardAt = undefined;
    this.#busySince = this.#beat + 1;
    void this.#heartbeat(false);
  }

  /**
   * Busy, the others have heard so (its heartbeat saying so came back through the bucket, after whatever they had
   * put before), and a heartbeat has passed since: it may borrow the shares of replicas that are not busy, and
   * they know to take theirs back. The heartbeat's wait lets replicas woken by the same burst of queries say so
   * before anyone borrows their shares.
   */
  get mayBorrow(): boolean {
    return (
      this.self.busy === true && this.#heardAt !== undefined && this.now() - this.#heardAt >= this.config.heartbeat
    );
  }

  /** The live members, sorted by ID; this replica among them. */
  live(): Member[] {
    const now = this.now();
    const live = new Map<string, Member>([[this.self.id, this.self]]);
    for (const [id, m] of this.#members)
      if (!this.#connected || now - m.seenAt < this.config.timeout) live.set(id, m.member);
    return [...live.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  member(id: string): Member | undefined {
    return id === this.self.id ? this.self : this.#members.get(id)?.member;
  }

  /** Told the sorted live list whenever it changes; returns a function that stops telling it. */
  onChanged(listener: (live: Member[]) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /** Resolves once `ok()` holds after a change, or after `ms`, or when `signal` aborts. */
  waitFor(ok: () => boolean, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        stop();
        resolve();
      };
      const stop = this.onChanged(() => {
        if (ok()) done();
      });
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      if (ok()) done();
    });
  }

  /** Stops heartbeats and deletes this replica's key: its tenants move to the others at once (draining). */
  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    // Without NATS, or past `timeout`, there is no point: the others drop this replica by then anyway.
    if (!this.#kv || !this.#connected) return;
    const deleted = this.#kv
      .delete(this.self.id)
      .catch((e: unknown) => this.log(`membership: leaving: ${(e as Error).message}`));
    await Promise.race([deleted, new Promise((r) => setTimeout(r, this.config.timeout).unref?.())]);
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    await this.leave();
    this.#closed = true;
    // A connection that failed was logged when it failed (connectNats): there is nothing to close then.
    const nc = await Promise.race([this.#nc, new Promise<undefined>((r) => setTimeout(r, 0))]).catch(() => undefined);
    await nc?.close();
  }

  async #run(): Promise<void> {
    const nc = await this.#nc.catch((e: unknown) => {
      this.log(`membership: cannot connect to NATS: ${(e as Error).message}`);
      return undefined;
    });
    if (!nc || this.#closed) return;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") this.#connected = false;
        if (s.type === "reconnect") this.#reconnected();
      }
    })();
    const { bucket, nats, timeout } = this.config;
    const name = bucket ?? `${nats.prefix}_members`;
    for (;;) {
      try {
        const js = jetstream(nc, { timeout: nats.timeout });
        const kv = await new Kvm(js).create(name, { history: 1, ttl: timeout, replicas: nats.replicas });
        await keepFor(await jetstreamManager(nc, { timeout: nats.timeout }), `KV_${name}`, timeout);
        this.#kv = kv;
        break;
      } catch (e) {
        if (this.#closed) return;
        this.log(`membership: cannot open the KV bucket ${name}: ${(e as Error).message}; trying again`);
        await new Promise((r) => setTimeout(r, this.config.heartbeat));
      }
    }
    this.#connected = true;
    // The others first, then this replica's own heartbeat: once they can route tenants here, this replica
    // already knows them, and takes only its share of the queriers' slots, not all of them. (An empty bucket
    // sends nothing: a heartbeat's wait at most.)
    await Promise.race([this.#watch(this.#kv, name), new Promise((r) => setTimeout(r, this.config.heartbeat))]);
    await this.#heartbeat();
  }

  /** Watches the bucket for ever (again after a failure); settles once the values already there are seen. */
  #watch(kv: KV, name: string): Promise<void> {
    let seenAll!: () => void;
    const initial = new Promise<void>((r) => {
      seenAll = r;
    });
    void (async () => {
      while (!this.#closed) {
        try {
          const watcher = await kv.watch({ key: ">" });
          for await (const e of watcher) {
            if (this.#closed) watcher.stop();
            else this.#saw(e);
            if (e.isUpdate || e.delta === 0) seenAll();
          }
        } catch (e) {
          if (!this.#closed) this.log(`membership: watching ${name} stopped: ${(e as Error).message}; watching again`);
        }
        seenAll();
        await new Promise((r) => setTimeout(r, this.config.heartbeat));
      }
    })();
    return initial;
  }

  /** Back after an outage: everyone gets a full timeout to be heard of again, instead of leaving at once. */
  #reconnected(): void {
    const now = this.now();
    for (const m of this.#members.values()) m.seenAt = now;
    this.#connected = true;
    void this.#heartbeat();
  }

  #saw(e: KvWatchEntry): void {
    const own = e.key === this.self.id;
    let member: Member | undefined;
    if (e.operation === "PUT") {
      try {
        member = e.json<Member>();
      } catch {
        if (!own) this.log(`membership: ignoring a malformed entry under ${e.key}`);
        return;
      }
    }
    if (own) this.#sawOwn(member);
    else if (!member) this.#members.delete(e.key);
    else if (typeof member.url === "string") {
      // What was there before the watch began is as old as the server says; news is as old as now.
      const seenAt = e.isUpdate ? this.now() : Math.min(this.now(), e.created.getTime());
      this.#members.set(e.key, { member: { ...member, id: e.key }, seenAt });
    }
    this.#announce();
  }

  /** This replica's own heartbeat came back: once it is the one saying busy, the others have heard so. */
  #sawOwn(echo: Member | undefined): void {
    if (!this.self.busy || this.#heardAt !== undefined || !echo?.busy || (echo.beat ?? 0) < this.#busySince) return;
    this.#heardAt = this.now();
  }

  #expire(): void {
    const now = this.now();
    const paused = now - this.#lastTick > this.config.timeout / 2;
    this.#lastTick = now;
    // This process stood still (stopped, or its event loop blocked): the heartbeats it missed meanwhile are still
    // in its socket. Everyone gets a full timeout again rather than being dropped before they are read.
    if (paused) for (const m of this.#members.values()) m.seenAt = now;
    if (this.#connected) {
      // Long gone: forgotten (the live list already left them out after `timeout`).
      for (const [id, m] of this.#members) if (now - m.seenAt > 10 * this.config.timeout) this.#members.delete(id);
    }
    this.#announce();
  }

  /**
   * `regular`: the timer's heartbeat, which also notices that this replica has had no work for a whole `timeout`:
   * only then does it lend its share. Gaps between a tenant's queries are shorter than that, and every lent share
   * taken back costs a moment above the budget, so a replica under steady load never lends.
   */
  async #heartbeat(regular = true): Promise<void> {
    if (regular) {
      if (this.#hasWork()) this.#lastWorkAt = this.now();
      if (this.self.busy && this.now() - this.#lastWorkAt > this.config.timeout) {
        this.self.busy = false;
        this.#heardAt = undefined;
        this.#announce();
      }
    }
    if (this.#left || !this.#kv || !this.#connected) return;
    this.self.beat = ++this.#beat;
    await this.#kv
      .put(this.self.id, JSON.stringify(this.self))
      .catch((e: unknown) => this.log(`membership: heartbeat failed: ${(e as Error).message}`));
  }

  #announce(): void {
    const live = this.live();
    const key = `${live.map((m) => `${m.id}${m.busy === false ? "" : "*"}`).join(",")} ${this.mayBorrow}`;
    if (key === this.#lastLive) return;
    this.#lastLive = key;
    for (const l of [...this.#listeners]) l(live);
  }
}
