/** The part of Web Headers the edge's decisions read: Headers has it, and so has HeaderMap. */
export interface HeaderReader {
  /** `name` in lower case. */
  get(name: string): string | null;
  forEach(fn: (value: string, name: string) => void): void;
}

/**
 * Request headers as the edge passes them on: lower-cased names, a repeated header's values joined with ", " (as
 * Headers does). A plain Map underneath: on Node, Web Headers validate and sort on every call and cost several
 * times the rest of a request's header work. Names given to get, has and delete are lower case.
 */
export class HeaderMap implements HeaderReader {
  readonly #map = new Map<string, string>();

  /** From a Node request's rawHeaders (name, value, name, value, …), which the HTTP parser has validated. */
  static fromRaw(raw: readonly string[]): HeaderMap {
    const h = new HeaderMap();
    for (let i = 0; i < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
    return h;
  }

  static from(headers: HeaderReader): HeaderMap {
    const h = new HeaderMap();
    headers.forEach((value, name) => {
      h.#map.set(name, value);
    });
    return h;
  }

  get(name: string): string | null {
    return this.#map.get(name) ?? null;
  }
  has(name: string): boolean {
    return this.#map.has(name);
  }
  set(name: string, value: string): void {
    this.#map.set(name.toLowerCase(), value);
  }
  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const prior = this.#map.get(key);
    this.#map.set(key, prior === undefined ? value : `${prior}, ${value}`);
  }
  delete(name: string): void {
    this.#map.delete(name);
  }
  forEach(fn: (value: string, name: string) => void): void {
    for (const [name, value] of this.#map) fn(value, name);
  }
  /** name, value, name, value, …: what node:http and undici take without converting. */
  flat(): string[] {
    const out: string[] = [];
    for (const [name, value] of this.#map) out.push(name, value);
    return out;
  }
  toHeaders(): Headers {
    return new Headers([...this.#map]);
  }
}
