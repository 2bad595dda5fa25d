import type { ActorName, Identity } from "../identity/signed-identity.js";

/** One actor path and who it stands for, as /debug/actors lists it. */
export interface ActorEntry extends ActorName {
  actor: string;
  tenants: string[];
  lastSeen: string;
}

/**
 * The actor directory (status.actor_directory, off by default): which subject or client id each actor path stands
 * for, so an operator can tell who `users | b9ae…` is on the admin listener. In memory only, at most `maxActors`
 * entries, the least recently seen forgotten first; names come only from the edge (in-process or signed).
 */
export class ActorDirectory {
  // Insertion order is recency order: a seen actor moves to the end.
  readonly #entries = new Map<string, { who: ActorName; tenants: string[]; lastSeen: number }>();

  constructor(readonly maxActors: number) {}

  remember(identity: Identity, now = Date.now()): void {
    if (!identity.who) return;
    const key = identity.actorPath;
    this.#entries.delete(key);
    this.#entries.set(key, { who: identity.who, tenants: identity.tenants, lastSeen: now });
    if (this.#entries.size > this.maxActors) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  nameOf(actorPath: string): ActorName | undefined {
    return this.#entries.get(actorPath)?.who;
  }

  /** Most recently seen first, at most `limit`. */
  list(limit = 1000): ActorEntry[] {
    const out: ActorEntry[] = [];
    for (const [actor, e] of [...this.#entries].reverse().slice(0, limit))
      out.push({ actor, ...e.who, tenants: e.tenants, lastSeen: new Date(e.lastSeen).toISOString() });
    return out;
  }

  get size(): number {
    return this.#entries.size;
  }
}
