import type { QueueNodeView } from "../../observability/metrics.js";
import { hasIdleActor, QueueNode, started } from "./node.js";
import { nextTurn, type Policy } from "./turns.js";

export interface TreeOptions {
  /** Between tenants. */
  policy: Policy;
  /** Within a tenant, between its actors (default: `policy`). */
  tenantPolicy?: Record<string, Policy>;
  /** Relative shares; a node with weight 2 may use twice the querier time of a weight-1 sibling. */
  weight?: (tenant: string, path: string[]) => number;
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

interface Placement<T> {
  node: QueueNode<T>;
  /** Nodes charged at dispatch, with the charge, so completion can correct it. */
  charged?: { nodes: QueueNode<T>[]; local: QueueNode<T>; estimate: number };
}

/**
 * The fair queue's tree (Loki's tree queue): tenant → actor path segments, each node with a local FIFO
 * beside its children. It holds what is queued and in flight, charges querier time, and picks the next
 * request (turns.ts decides among siblings). It checks nothing: limits and paths are limits.ts's.
 * Empty nodes vanish.
 */
export class QueueTree<T> {
  readonly root: QueueNode<T>;
  readonly #where = new Map<T, Placement<T>>();
  /** When recently pruned nodes went idle, by path: credit is earned only by real idle time. */
  readonly #idleSince = new Map<string, number>();

  constructor(readonly opts: TreeOptions) {
    this.root = new QueueNode<T>("", undefined, 1, opts.initialEstimateMs ?? 50);
  }

  /** Requests queued, not yet dispatched. */
  get length(): number {
    return this.root.queued;
  }

  /** Requests queued at or below a node ([tenant, ...actor path segments]); 0 for a node that does not exist. */
  queuedAt(names: string[]): number {
    let n: QueueNode<T> | undefined = this.root;
    for (const name of names) n = n?.children.get(name);
    return n?.queued ?? 0;
  }

  /** Queues `item` at the node [tenant, ...actor path segments], making the nodes on the way. */
  add(item: T, names: string[]): void {
    let node = this.root;
    for (const name of names) node = this.#child(node, name);
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
    for (let n: QueueNode<T> | undefined = node; n; n = n.parent) n.queued++;
    this.#where.set(item, { node });
  }

  /**
   * Takes the next request, charging the nodes on its way: among tenants only those `eligible` for the
   * asking querier compete. With `idleOnly`, only subtrees holding a queued request of an actor with
   * nothing in flight compete, in the same order.
   */
  take(eligible: (tenant: string) => boolean, idleOnly = false): T | undefined {
    return this.#take(this.root, eligible, 0, idleOnly);
  }

  /** Takes a queued request out (unknown or already dispatched: nothing happens). */
  remove(item: T): void {
    const at = this.#where.get(item);
    if (!at || at.charged) return;
    at.node.local.delete(item);
    for (let n: QueueNode<T> | undefined = at.node; n; n = n.parent) n.queued--;
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

  /** The tenants' subtrees as operators see them. */
  describe(): QueueNodeView[] {
    const describe = (n: QueueNode<T>): QueueNodeView => ({
      name: n.name,
      queued: n.queued,
      local: n.local.size,
      inflight: n.inflight,
      querier_time_ms: Math.round(n.used * n.weight),
      weight: n.weight,
      children: [...n.children.values()].map(describe),
    });
    return [...this.root.children.values()].map(describe);
  }

  #child(parent: QueueNode<T>, name: string): QueueNode<T> {
    let c = parent.children.get(name);
    const isNew = !c;
    if (!c) {
      const path = [...parent.path, name];
      c = new QueueNode<T>(name, parent, this.opts.weight?.(path[0]!, path.slice(1)) ?? 1, parent.costMs);
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
      // and the slot freed after its first piece would go to the flood. A child pruned a moment ago starts no
      // lower than it left.
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

  #policy(node: QueueNode<T>, depth: number): Policy {
    return depth === 0 ? this.opts.policy : (this.opts.tenantPolicy?.[node.path[0]!] ?? this.opts.policy);
  }

  #take(node: QueueNode<T>, eligible: (tenant: string) => boolean, depth: number, idleOnly: boolean): T | undefined {
    const candidates = (depth === 0 ? node.order.filter(eligible) : node.order).filter((n) => {
      const c = node.children.get(n)!;
      return c.queued > 0 && (!idleOnly || hasIdleActor(c));
    });
    const hasLocal = node.local.size > 0 && (!idleOnly || node.inflight === 0);
    if (!hasLocal && candidates.length === 0) return undefined;

    const pick = nextTurn(node, this.#policy(node, depth), candidates, hasLocal);
    if (pick === undefined) {
      const item = node.local.values().next().value as T;
      node.local.delete(item);
      this.#dispatched(item, node);
      return item;
    }
    return this.#take(node.children.get(pick)!, eligible, depth + 1, idleOnly);
  }

  #dispatched(item: T, leaf: QueueNode<T>): void {
    const estimate = leaf.costMs;
    const nodes: QueueNode<T>[] = [];
    for (let n: QueueNode<T> | undefined = leaf; n?.parent; n = n.parent) {
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
    this.#where.set(item, { node: leaf, charged: { nodes, local: leaf, estimate } });
  }

  #idle(pathKey: string): void {
    if (!(this.opts.activationCreditMs ?? 0)) return;
    this.#idleSince.delete(pathKey);
    this.#idleSince.set(pathKey, (this.opts.now ?? Date.now)());
    // Bounded: the oldest entries have been idle longest, and would get the full credit anyway.
    if (this.#idleSince.size > 10_000) this.#idleSince.delete(this.#idleSince.keys().next().value as string);
  }

  #credit(pathKey: string): number {
    const max = this.opts.activationCreditMs ?? 0;
    if (max <= 0) return 0;
    const since = this.#idleSince.get(pathKey);
    return since === undefined ? max : Math.min(max, (this.opts.now ?? Date.now)() - since);
  }

  /** Removes nodes with nothing queued and nothing in flight, bottom up: the tree never grows without bound. */
  #prune(node: QueueNode<T>): void {
    if (node.local.size === 0 && node.queued === 0) this.#idle(`${node.path.join("\0")}\0`);
    for (let n: QueueNode<T> | undefined = node; n?.parent; n = n.parent) {
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
