import {
  AckPolicy,
  type Consumer,
  type JetStreamClient,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { type ObjectStore, Objm } from "@nats-io/obj";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import type { NatsConnectionConfig } from "../../config/schema.js";
import { connectNats, keepFor } from "../nats/connect.js";
import { Conflict, type Delivery, type JobStore, type Versioned } from "./store.js";

/** The server's code for a compare-and-set lost ("wrong last sequence"). */
const WRONG_LAST_SEQUENCE = 10071;

interface Parts {
  nc: NatsConnection;
  js: JetStreamClient;
  records: KV;
  answers: ObjectStore;
  workers: Consumer;
}

/**
 * The async store in NATS JetStream: records and limit slots in a KV bucket (PREFIX_records), jobs
 * on a work-queue stream (PREFIX_jobs) that one durable pull consumer shares among all replicas,
 * answers in an Object Store bucket (PREFIX_answers, chunked by the client), cancels on a plain
 * subject. Streams and buckets expire what is older than `maxAgeMs` (the server's max_age).
 */
export class NatsJobStore implements JobStore {
  readonly #parts: Promise<Parts>;
  readonly #cancelListeners: ((id: string) => void)[] = [];
  readonly #subject: string;
  #closed = false;

  constructor(
    readonly opts: NatsConnectionConfig,
    readonly maxAgeMs: number,
    /** How long a replica may stay silent about a job before another replica takes it. */
    readonly ackWaitMs: number,
    readonly log: (line: string) => void,
  ) {
    this.#subject = `${opts.prefix}.jobs`;
    this.#parts = this.#setUp();
    this.#parts.catch(() => {}); // reported by the operations that need it
  }

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    const e = await (await this.#ready()).records.get(key);
    if (e?.operation !== "PUT") return undefined;
    return { value: e.json<T>(), revision: e.revision };
  }

  create<T>(key: string, value: T): Promise<number> {
    return this.#cas(async (kv) => kv.create(key, JSON.stringify(value)));
  }

  update<T>(key: string, value: T, revision: number): Promise<number> {
    return this.#cas(async (kv) => kv.update(key, JSON.stringify(value), revision));
  }

  async delete(key: string): Promise<void> {
    await (await this.#ready()).records.purge(key);
  }

  async putAnswer(name: string, body: Uint8Array): Promise<void> {
    await (await this.#ready()).answers.putBlob({ name }, body);
  }

  async getAnswer(name: string): Promise<Uint8Array | undefined> {
    return (await (await this.#ready()).answers.getBlob(name)) ?? undefined;
  }

  async deleteAnswer(name: string): Promise<void> {
    const { answers } = await this.#ready();
    if (await answers.info(name)) await answers.delete(name);
  }

  async enqueue(message: Uint8Array): Promise<void> {
    await (await this.#ready()).js.publish(this.#subject, message, { timeout: this.opts.timeout });
  }

  async next(waitMs: number): Promise<Delivery | undefined> {
    const m = await (await this.#ready()).workers.next({ expires: Math.max(1000, waitMs) });
    if (!m) return undefined;
    return {
      data: m.data,
      working: () => m.working(),
      ack: async () => void (await m.ackAck({ timeout: this.opts.timeout })),
      nak: () => m.nak(),
      term: (reason) => m.term(reason),
    };
  }

  async announceCancel(id: string): Promise<void> {
    const { nc } = await this.#ready();
    nc.publish(`${this.opts.prefix}.cancel`, id);
    await nc.flush();
  }

  onCancel(listener: (id: string) => void): void {
    this.#cancelListeners.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const parts = await this.#parts.catch(() => undefined); // not connected: reported when it failed
    await parts?.nc.close();
  }

  /** The connection and JetStream parts, or an error once the configured timeout has passed without them. */
  async #ready(): Promise<Parts> {
    if (this.#closed) throw new Error("the async store is closed");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`NATS (${this.opts.servers.join(", ")}) not reachable within ${this.opts.timeout} ms`)),
        this.opts.timeout,
      );
    });
    try {
      return await Promise.race([this.#parts, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #cas(write: (kv: KV) => Promise<number>): Promise<number> {
    const { records } = await this.#ready();
    try {
      return await write(records);
    } catch (e) {
      if (e instanceof JetStreamApiError && e.code === WRONG_LAST_SEQUENCE) throw new Conflict(e.message);
      throw e;
    }
  }

  /** Connects (retrying for ever, so a replica started before NATS works once NATS is up) and declares the parts. */
  async #setUp(): Promise<Parts> {
    const nc = await connectNats(this.opts, "async store", this.log);
    const js = jetstream(nc, { timeout: this.opts.timeout });
    const jsm = await jetstreamManager(nc, { timeout: this.opts.timeout });
    const { prefix, replicas } = this.opts;
    const records = await new Kvm(js).create(`${prefix}_records`, { history: 1, ttl: this.maxAgeMs, replicas });
    const answers = await new Objm(js).create(`${prefix}_answers`, { ttl: nanos(this.maxAgeMs), replicas });
    // Buckets made with another keep_alive or deadline before: they expire what this configuration says.
    await keepFor(jsm, `KV_${prefix}_records`, this.maxAgeMs);
    await keepFor(jsm, `OBJ_${prefix}_answers`, this.maxAgeMs);
    const stream = `${prefix}_jobs`;
    const config = {
      subjects: [this.#subject],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_age: nanos(this.maxAgeMs),
      num_replicas: replicas,
    };
    // No such stream yet (info's error): added; any other trouble with the server fails the add, and is reported.
    if (await jsm.streams.info(stream).catch(() => undefined)) await jsm.streams.update(stream, config);
    else await jsm.streams.add({ name: stream, ...config });
    const consumer = {
      durable_name: "workers",
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(this.ackWaitMs),
      max_ack_pending: -1,
    };
    await jsm.consumers.add(stream, consumer).catch(() => jsm.consumers.update(stream, "workers", consumer));
    nc.subscribe(`${prefix}.cancel`, {
      callback: (err, msg) => {
        if (!err) for (const l of this.#cancelListeners) l(msg.string());
      },
    });
    return { nc, js, records, answers, workers: await js.consumers.get(stream, "workers") };
  }
}
