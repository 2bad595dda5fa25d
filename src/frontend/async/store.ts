/**
 * Where asynchronous queries live: a key-value bucket with compare-and-set (job records, limit
 * slots), a work queue (jobs waiting for a replica), a blob store (answers) and a cancel broadcast.
 * `memory` keeps them in this process; `nats` in NATS JetStream, shared by every replica.
 */
export interface JobStore {
  get<T>(key: string): Promise<Versioned<T> | undefined>;
  /** Stores a new key; throws Conflict when it exists. */
  create<T>(key: string, value: T): Promise<number>;
  /** Replaces the key's value if its revision is still `revision`; throws Conflict otherwise. */
  update<T>(key: string, value: T, revision: number): Promise<number>;
  delete(key: string): Promise<void>;
  putAnswer(name: string, body: Uint8Array): Promise<void>;
  getAnswer(name: string): Promise<Uint8Array | undefined>;
  deleteAnswer(name: string): Promise<void>;
  /** Resolves once the work queue holds the message. */
  enqueue(message: Uint8Array): Promise<void>;
  /** The next message of the work queue for this replica, or undefined when none came within waitMs. */
  next(waitMs: number): Promise<Delivery | undefined>;
  /** Tells every replica (this one too) that a job was cancelled. */
  announceCancel(id: string): Promise<void>;
  onCancel(listener: (id: string) => void): void;
  close(): Promise<void>;
}

export interface Versioned<T> {
  value: T;
  revision: number;
}

/** A message taken from the work queue; until acknowledged, it goes to another replica after the ack wait. */
export interface Delivery {
  data: Uint8Array;
  /** Renews the claim: the message stays with this replica for another ack wait. */
  working(): void;
  /** Done with it: it is never delivered again. */
  ack(): Promise<void>;
  /** Give it back now, for another replica. */
  nak(): void;
  /** Never deliver it again: it cannot be run (dead-lettered). */
  term(reason: string): void;
}

/** A compare-and-set lost: someone wrote the key since it was read. */
export class Conflict extends Error {
  override name = "Conflict";
}

/** Writers of one key on this replica, one after another (see modify). */
const writers = new WeakMap<JobStore, Map<string, Promise<unknown>>>();

/**
 * Reads the key, applies `change` and writes it back, again from a fresh read if someone wrote
 * meanwhile. Writers on this replica take turns, so that a burst of submits for one tenant costs one
 * read and one write each instead of colliding; other replicas' writes are what the retries are for
 * (after a short random pause, so that replicas do not collide in lockstep).
 */
export function modify<T>(
  store: JobStore,
  key: string,
  change: (current: T | undefined) => T | undefined,
): Promise<Versioned<T> | undefined> {
  const keys = writers.get(store) ?? new Map<string, Promise<unknown>>();
  writers.set(store, keys);
  const previous = keys.get(key) ?? Promise.resolve();
  const mine = previous.then(() => modifyNow(store, key, change));
  const settled = mine.catch(() => {}); // the caller gets mine's failure: the next writer only waits for it
  keys.set(key, settled);
  void settled.then(() => keys.get(key) === settled && keys.delete(key));
  return mine;
}

async function modifyNow<T>(
  store: JobStore,
  key: string,
  change: (current: T | undefined) => T | undefined,
): Promise<Versioned<T> | undefined> {
  for (let attempt = 0; ; attempt++) {
    const current = await store.get<T>(key);
    const next = change(current?.value);
    if (next === undefined) return current;
    try {
      const revision = current ? await store.update(key, next, current.revision) : await store.create(key, next);
      return { value: next, revision };
    } catch (e) {
      if (!(e instanceof Conflict) || attempt >= 50) throw e;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
    }
  }
}
