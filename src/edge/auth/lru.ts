/**
 * A Map kept in (nearly) least-recently-used order, bounded by entry count. A hit moves its entry to the young end
 * only once it has aged past half the bound: a hot entry is then not moved on every hit (two Map writes each), and
 * an entry still goes only after `max / 2` other entries were set or moved since its last use.
 */
export class Lru<K, V> {
  readonly #map = new Map<K, { value: V; at: number }>();
  #clock = 0;
  constructor(readonly max: number) {}

  get(key: K): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (this.#clock - entry.at > this.max / 2) {
      this.#map.delete(key);
      entry.at = ++this.#clock;
      this.#map.set(key, entry);
    }
    return entry.value;
  }

  set(key: K, value: V): void {
    if (this.max <= 0) return;
    this.#map.delete(key);
    this.#map.set(key, { value, at: ++this.#clock });
    while (this.#map.size > this.max) this.#map.delete(this.#map.keys().next().value as K);
  }

  delete(key: K): void {
    this.#map.delete(key);
  }

  get size(): number {
    return this.#map.size;
  }
}
