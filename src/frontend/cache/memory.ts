import type { Cache } from "./cache.js";

/** An in-memory LRU bounded by bytes: the embedded default when no memcached is configured. */
export class MemoryCache implements Cache {
  readonly #items = new Map<string, { value: Uint8Array; expires: number }>();
  #bytes = 0;

  constructor(
    readonly maxBytes: number,
    readonly maxItemBytes = maxBytes,
  ) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    const item = this.#items.get(key);
    if (!item) return undefined;
    this.#items.delete(key);
    if (item.expires <= Date.now()) {
      this.#bytes -= item.value.byteLength + key.length;
      return undefined;
    }
    this.#items.set(key, item);
    return item.value;
  }

  async set(key: string, value: Uint8Array, ttlSeconds: number): Promise<boolean> {
    const size = value.byteLength + key.length;
    if (size > this.maxItemBytes || size > this.maxBytes) return false;
    await this.delete(key);
    this.#items.set(key, { value, expires: Date.now() + ttlSeconds * 1000 });
    this.#bytes += size;
    for (const [k, v] of this.#items) {
      if (this.#bytes <= this.maxBytes) break;
      this.#items.delete(k);
      this.#bytes -= v.value.byteLength + k.length;
    }
    return true;
  }

  async delete(key: string): Promise<void> {
    const item = this.#items.get(key);
    if (!item) return;
    this.#items.delete(key);
    this.#bytes -= item.value.byteLength + key.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  async close(): Promise<void> {
    this.#items.clear();
    this.#bytes = 0;
  }
}
