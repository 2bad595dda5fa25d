import { Conflict, type Delivery, type JobStore, type Versioned } from "./store.js";

interface Entry {
  value: unknown;
  revision: number;
  writtenAt: number;
}

/**
 * The embedded store: one process, nothing shared. Keys and answers expire `maxAgeMs` after their
 * last write, like the NATS buckets; a sweeper removes them so that memory does not grow.
 */
export class MemoryJobStore implements JobStore {
  readonly #kv = new Map<string, Entry>();
  readonly #answers = new Map<string, { body: Uint8Array; writtenAt: number }>();
  readonly #queue: Uint8Array[] = [];
  readonly #waiting: ((d: Delivery | undefined) => void)[] = [];
  readonly #cancelListeners: ((id: string) => void)[] = [];
  readonly #sweeper: ReturnType<typeof setInterval>;
  #revision = 0;

  constructor(
    readonly maxAgeMs: number,
    readonly now: () => number = Date.now,
  ) {
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(60_000, maxAgeMs));
    this.#sweeper.unref?.();
  }

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    const e = this.#kv.get(key);
    if (!e || this.#expired(e.writtenAt)) return undefined;
    return { value: structuredClone(e.value) as T, revision: e.revision };
  }

  async create<T>(key: string, value: T): Promise<number> {
    if (await this.get(key)) throw new Conflict(`${key} exists`);
    return this.#write(key, value);
  }

  async update<T>(key: string, value: T, revision: number): Promise<number> {
    if ((await this.get(key))?.revision !== revision) throw new Conflict(`${key} changed`);
    return this.#write(key, value);
  }

  async delete(key: string): Promise<void> {
    this.#kv.delete(key);
  }

  async putAnswer(name: string, body: Uint8Array): Promise<void> {
    this.#answers.set(name, { body, writtenAt: this.now() });
  }

  async getAnswer(name: string): Promise<Uint8Array | undefined> {
    const a = this.#answers.get(name);
    return a && !this.#expired(a.writtenAt) ? a.body : undefined;
  }

  async deleteAnswer(name: string): Promise<void> {
    this.#answers.delete(name);
  }

  async enqueue(message: Uint8Array): Promise<void> {
    const waiter = this.#waiting.shift();
    if (waiter) waiter(this.#delivery(message));
    else this.#queue.push(message);
  }

  next(waitMs: number): Promise<Delivery | undefined> {
    const message = this.#queue.shift();
    if (message) return Promise.resolve(this.#delivery(message));
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(taker), 1);
        resolve(undefined);
      }, waitMs);
      const taker = (d: Delivery | undefined) => {
        clearTimeout(timer);
        resolve(d);
      };
      this.#waiting.push(taker);
    });
  }

  async announceCancel(id: string): Promise<void> {
    for (const l of this.#cancelListeners) l(id);
  }

  onCancel(listener: (id: string) => void): void {
    this.#cancelListeners.push(listener);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    for (const w of this.#waiting.splice(0)) w(undefined);
  }

  /** One process: a message given back goes to the end of the queue; there is no other replica to wait for. */
  #delivery(data: Uint8Array): Delivery {
    return {
      data,
      working: () => {},
      ack: async () => {},
      nak: () => void this.enqueue(data),
      term: () => {},
    };
  }

  #write(key: string, value: unknown): number {
    const revision = ++this.#revision;
    this.#kv.set(key, { value: structuredClone(value), revision, writtenAt: this.now() });
    return revision;
  }

  #expired = (writtenAt: number) => this.now() - writtenAt > this.maxAgeMs;

  #sweep(): void {
    for (const [k, e] of this.#kv) if (this.#expired(e.writtenAt)) this.#kv.delete(k);
    for (const [k, a] of this.#answers) if (this.#expired(a.writtenAt)) this.#answers.delete(k);
  }
}
