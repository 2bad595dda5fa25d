import { ApiError } from "../../http/errors.js";
import type { QueuedRequest, RequestQueue } from "./queue.js";
import { shardFor } from "./shard.js";

export type Policy = "round-robin" | "querier-time";

export interface FairQueueOptions {
  /** Between tenants. */
  policy: Policy;
  /** Within a tenant, between its actors (default: `policy`). */
  tenantPolicy?: Record<string, Policy>;
  maxLevels: number;
  maxOutstandingPerTenant: number;
  /** 0: no per-actor limit. */
  maxOutstandingPerActor: number;
  /** Relative shares; a node with weight 2 may use twice the querier time of a weight-1 sibling. */
  weight?: (tenant: string, path: string[]) => number;
  /** Queriers a tenant may use (shuffle sharding); 0 = all. */
  maxQueriersPerTenant: number;
  querierIds: readonly string[];
  /** Charge for a sub-query before anything is known of its actor's costs. */
  initialEstimateMs?: number;
  /**
   * Querier time a node that becomes active may use ahead of its busy siblings, at most as much as
   * it was idle (like fq_codel's new flows): an interactive query gets through a flood at about its
   * idle latency, and an actor that goes idle for a moment cannot keep collecting it.
   */
  activationCreditMs?: number;
  now?: () => number;
}

/** Whether some actor at or below `node` has a request queued and nothing in flight. */
function hasIdleActor<T>(node: Node<T>): boolean {
  if (node.queued === 0) return false;
  if (node.local.size > 0 && node.inflight === 0) return true;
  for (const c of node.children.values()) if (hasIdleActor(c)) return true;
  return false;
}

/** What a node has used, less the estimates of its pieces still running: where its running work started. */
const started = <T>(n: Node<T>) => n.used - n.pending;

/** One node of the tree: a tenant, or an actor path prefix below it. */
class Node<T> {
  /** Requests whose path ends here: they compete as one more child. */
  readonly local = new Set<T>();
  readonly children = new Map<string, Node<T>>();
  /** Rotation for round-robin: -1 is the local queue, then children in arrival order. */
  order: string[] = [];
  cursor = -1;
  /** Queued requests in this subtree; in-flight ones. */
  queued = 0;
  inflight = 0;
  /** Querier time charged to this subtree (ms, divided by weight); the local queue has its own. */
  used = 0;
  localUsed = 0;
  /** Of `used`, the estimates charged for sub-queries still in flight (divided by weight). */
  pending = 0;
  /**
   * Querier time of the last child (or local queue) picked here, after its charge: where a node that becomes active
   * starts.
   */
  vtime = 0;
  /** Recent cost of this node's sub-queries, for the charge at dispatch. */
  costMs: number;
  /**
   * The querier time of children pruned while this node stayed (oldest first, bounded): one that comes back
   * starts no lower than it left, so churning siblings cannot overtake a waiting one by being forgotten.
   */
  readonly departed = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly parent: Node<T> | undefined,
    readonly weight: number,
    costMs: number,
  ) {
    this.costMs = costMs;
  }

  get path(): string[] {
    const p: string[] = [];
    for (let n: Node<T> | undefined = this; n?.parent; n = n.parent) p.unshift(n.name);
    return p;
  }
}

interface Placement<T> {
  node: Node<T>;
  /** Nodes charged at dispatch, with the charge, so completion can correct it. */
  charged?: { nodes: Node<T>[]; local: Node<T>; estimate: number };
}

/**
 * The hierarchical fair queue: tenant → actor path segments (X-Loki-Actor-Path), each node with a
 * local FIFO beside its children, as in Loki. Siblings take turns (round-robin), or the one that has
 * used the least querier time goes next (querier-time, like start-time fair queueing): a sub-query is
 * charged an estimate when dispatched and corrected by its real querier time when it completes, so an
 * actor whose sub-queries cost ten times more gets ten times fewer of them. Empty nodes vanish.
 */
export class FairQueue<T extends QueuedRequest> implements RequestQueue<T> {
  readonly root: Node<T>;
  readonly #where = new Map<T, Placement<T>>();
  readonly #shards = new Map<string, Set<string>>();
  /** When recently pruned nodes went idle, by path: credit is earned only by real idle time. */
  readonly #idleSince = new Map<string, number>();
  #length = 0;
  readonly #initial: number;
  #querierIds: readonly string[];

  constructor(readonly opts: FairQueueOptions) {
    this.#querierIds = opts.querierIds;
    this.#initial = opts.initialEstimateMs ?? 50;
    this.root = new Node<T>("", undefined, 1, this.#initial);
  }

  get length(): number {
    return this.#length;
  }

  enqueue(item: T): void {
    const path = this.#validPath(item.actorPath);
    const tenant = this.root.children.get(item.tenant);
    if ((tenant?.queued ?? 0) >= this.opts.maxOutstandingPerTenant)
      throw new ApiError(
        "too_many_requests",
        `too many outstanding requests for tenant ${item.tenant} (max_outstanding_requests_per_tenant: ` +
          `${this.opts.maxOutstandingPerTenant}); retry later`,
        { "retry-after": "1" },
      );
    if (this.opts.maxOutstandingPerActor > 0) {
      let n = tenant;
      for (const seg of path) n = n?.children.get(seg);
      if ((n?.queued ?? 0) >= this.opts.maxOutstandingPerActor)
        throw new ApiError(
          "too_many_requests",
          `too many outstanding requests for your user (max_outstanding_requests_per_actor: ` +
            `${this.opts.maxOutstandingPerActor}); retry later`,
          { "retry-after": "1" },
        );
    }
    let node = this.root;
    for (const name of [item.tenant, ...path]) node = this.#child(node, name);
    if (node.local.size === 0) {
      // The local queue is one more sibling: it too starts level (less its credit) with the least-served active one.
      const active = [...node.children.values()].filter((c) => c.queued > 0).map(started);
      node.localUsed = Math.max(
        node.localUsed,
        Math.max(node.vtime, ...(active.length ? [Math.min(...active)] : [])) -
          this.#credit(`${node.path.join("\0")}\0`),
      );
    }
    node.local.add(item);
    for (let n: Node<T> | undefined = node; n; n = n.parent) n.queued++;
    this.#where.set(item, { node });
    this.#length++;
  }

  dequeue(querierId: string, idleActorsOnly = false): T | undefined {
    for (;;) {
      const item = this.#take(this.root, querierId, 0, idleActorsOnly);
      if (!item) return undefined;
      if (!item.signal.aborted) return item;
      this.finished(item, 0); // cancelled while queued: dropped, never charged
    }
  }

  remove(item: T): void {
    const at = this.#where.get(item);
    if (!at || at.charged) return; // unknown, or already dispatched
    at.node.local.delete(item);
    for (let n: Node<T> | undefined = at.node; n; n = n.parent) n.queued--;
    this.#length--;
    this.#where.delete(item);
    this.#prune(at.node);
  }

  /** A dispatched request finished after `querierMs` of querier time: correct its charge. */
  finished(item: T, querierMs: number): void {
    const at = this.#where.get(item);
    if (!at?.charged) return;
    this.#where.delete(item);
    const { nodes, local, estimate } = at.charged;
    const delta = querierMs - estimate;
    for (const n of nodes) {
      n.used += delta / n.weight;
      n.pending -= estimate / n.weight;
      n.inflight--;
    }
    local.localUsed += delta / local.weight;
    // Every level learns what its sub-queries cost, so a new actor's first charge is its tenant's typical one.
    if (querierMs > 0) for (const n of nodes) n.costMs = 0.8 * n.costMs + 0.2 * querierMs;
    this.#prune(at.node);
  }

  #idle(pathKey: string): void {
    if (!(this.opts.activationCreditMs ?? 0)) return;
    this.#idleSince.delete(pathKey);
    this.#idleSince.set(pathKey, (this.opts.now ?? Date.now)());
    // Bounded: the oldest entries have been idle longest, and would get the full credit anyway.
    if (this.#idleSince.size > 10_000) this.#idleSince.delete(this.#idleSince.keys().next().value as string);
  }

  queriersChanged(ids: readonly string[]): void {
    this.#querierIds = ids;
    this.#shards.clear();
  }

  /** Queriers a tenant's requests may run on (all, unless max_queriers_per_tenant). */
  shard(tenant: string): Set<string> {
    let s = this.#shards.get(tenant);
    if (!s) {
      s = new Set(shardFor(tenant, this.#querierIds, this.opts.maxQueriersPerTenant));
      if (this.#shards.size > 10_000) this.#shards.clear();
      this.#shards.set(tenant, s);
    }
    return s;
  }

  queuedByTenant(): { tenant: string; queued: number }[] {
    return [...this.root.children.values()].map((n) => ({ tenant: n.name, queued: n.queued }));
  }

  snapshot(): unknown {
    const describe = (n: Node<T>): Record<string, unknown> => ({
      name: n.name,
      queued: n.queued,
      local: n.local.size,
      inflight: n.inflight,
      querier_time_ms: Math.round(n.used * n.weight),
      weight: n.weight,
      children: [...n.children.values()].map(describe),
    });
    return { queued: this.#length, tenants: [...this.root.children.values()].map(describe) };
  }

  #validPath(path: string[]): string[] {
    const segments = path.length === 1 && path[0] === "" ? [] : path;
    if (segments.some((s) => s === ""))
      throw new ApiError("bad_data", `X-Loki-Actor-Path has an empty segment: ${JSON.stringify(segments.join("|"))}`);
    if (segments.length > this.opts.maxLevels)
      throw new ApiError(
        "bad_data",
        `X-Loki-Actor-Path has ${segments.length} levels, more than max_queue_hierarchy_levels ` +
          `(${this.opts.maxLevels})`,
      );
    return segments;
  }

  #child(parent: Node<T>, name: string): Node<T> {
    let c = parent.children.get(name);
    const isNew = !c;
    if (!c) {
      const path = [...parent.path, name];
      c = new Node<T>(name, parent, this.opts.weight?.(path[0]!, path.slice(1)) ?? 1, parent.costMs);
      parent.children.set(name, c);
      // A new child waits a whole turn: it goes just behind the cursor, not at the end of the order
      // (which may be ahead of the cursor, so that churning siblings overtake a waiting one forever).
      if (parent.cursor >= 0) parent.order.splice(parent.cursor++, 0, name);
      else parent.order.push(name);
    }
    if (c.queued === 0) {
      // A node becoming active (even with a request still running) starts level with its least-served
      // active sibling, the parent's local queue included, and no lower than the parent's virtual time,
      // less the credit its idle time earned: idle time never buys the right to starve the others for long.
      // Level with what the sibling has started, not with the estimates of its pieces still running (as start-time
      // fair queueing starts a new flow at the start tag of the work in service): otherwise an actor that asks
      // again at once, with no idle time to earn credit, would start behind every flood piece already running,
      // and the slot freed after its first piece would go to the flood.
      const active = [...parent.children.values()].filter((s) => s !== c && s.queued > 0).map(started);
      if (parent.local.size > 0) active.push(parent.localUsed);
      const level =
        Math.max(parent.vtime, ...(active.length ? [Math.min(...active)] : [])) -
        this.#credit(c.path.join("\0")) / c.weight;
      const before = isNew ? parent.departed.get(name) : undefined;
      parent.departed.delete(name);
      c.used = Math.max(level, before ?? (isNew ? Number.NEGATIVE_INFINITY : c.used));
    }
    return c;
  }

  #policy(node: Node<T>, depth: number): Policy {
    return depth === 0 ? this.opts.policy : (this.opts.tenantPolicy?.[node.path[0]!] ?? this.opts.policy);
  }

  /**
   * Picks the next request below `node`, charging the nodes on its way. With `idleOnly`, only
   * subtrees holding a queued request of an actor with nothing in flight compete, in the same order.
   */
  #take(node: Node<T>, querierId: string, depth: number, idleOnly = false): T | undefined {
    const eligible = (name: string) => depth > 0 || this.shard(name).has(querierId);
    const candidates = (depth === 0 ? node.order.filter(eligible) : node.order).filter((n) => {
      const c = node.children.get(n)!;
      return c.queued > 0 && (!idleOnly || hasIdleActor(c));
    });
    const hasLocal = node.local.size > 0 && (!idleOnly || node.inflight === 0);
    if (!hasLocal && candidates.length === 0) return undefined;

    let pick: string | undefined; // undefined = the local queue
    if (this.#policy(node, depth) === "round-robin") {
      // Loki's rotation: the local queue (slot -1), then each child in arrival order, then around.
      const last = node.order.length - 1;
      for (let i = 0, pos = node.cursor; i <= node.order.length; i++, pos = pos >= last ? -1 : pos + 1) {
        if (pos === -1 ? hasLocal : candidates.includes(node.order[pos]!)) {
          pick = pos === -1 ? undefined : node.order[pos];
          node.cursor = pos >= last ? -1 : pos + 1;
          break;
        }
      }
    } else {
      // The least querier time used goes next; the local queue competes as one more child.
      let best = hasLocal ? node.localUsed : Infinity;
      for (const name of candidates) {
        const u = node.children.get(name)!.used;
        if (u < best) {
          best = u;
          pick = name;
        }
      }
    }

    if (pick === undefined) {
      const item = node.local.values().next().value as T;
      node.local.delete(item);
      this.#dispatched(item, node);
      return item;
    }
    return this.#take(node.children.get(pick)!, querierId, depth + 1, idleOnly);
  }

  #dispatched(item: T, leaf: Node<T>): void {
    const estimate = leaf.costMs;
    const nodes: Node<T>[] = [];
    for (let n: Node<T> | undefined = leaf; n?.parent; n = n.parent) {
      n.queued--;
      n.inflight++;
      n.used += estimate / n.weight;
      n.pending += estimate / n.weight;
      nodes.push(n);
    }
    this.root.queued--;
    // The virtual time is where the piece picked started (its start tag), not where its estimate ends.
    leaf.vtime = Math.max(leaf.vtime, leaf.localUsed);
    leaf.localUsed += estimate / leaf.weight;
    for (const n of nodes) n.parent!.vtime = Math.max(n.parent!.vtime, started(n));
    this.#length--;
    this.#where.set(item, { node: leaf, charged: { nodes, local: leaf, estimate } });
  }

  #credit(pathKey: string): number {
    const max = this.opts.activationCreditMs ?? 0;
    if (max <= 0) return 0;
    const since = this.#idleSince.get(pathKey);
    return since === undefined ? max : Math.min(max, (this.opts.now ?? Date.now)() - since);
  }

  /** Removes nodes with nothing queued and nothing in flight, bottom up: the tree never grows without bound. */
  #prune(node: Node<T>): void {
    if (node.local.size === 0 && node.queued === 0) this.#idle(`${node.path.join("\0")}\0`);
    for (let n: Node<T> | undefined = node; n?.parent; n = n.parent) {
      if (n.queued > 0 || n.inflight > 0 || n.local.size > 0) return;
      this.#idle(n.path.join("\0"));
      const p = n.parent;
      p.children.delete(n.name);
      p.departed.set(n.name, n.used);
      if (p.departed.size > 1000) p.departed.delete(p.departed.keys().next().value as string);
      const i = p.order.indexOf(n.name);
      p.order.splice(i, 1);
      // Keep the rotation pointing at the same next slot.
      if (p.cursor > i) p.cursor--;
      if (p.cursor > p.order.length - 1) p.cursor = -1;
    }
  }
}
