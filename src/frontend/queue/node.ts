/** One node of the fair queue's tree: a tenant, or an actor path prefix below it. */
export class QueueNode<T> {
  /** Requests whose path ends here: they compete as one more child. */
  readonly local = new Set<T>();
  readonly children = new Map<string, QueueNode<T>>();
  /** Rotation for round-robin: -1 is the local queue, then children in arrival order. */
  order: string[] = [];
  cursor = -1;
  /** Queued requests in this subtree; in-flight ones. */
  queued = 0;
  inflight = 0;
  /** Querier time charged to this subtree (ms, divided by weight); the local queue has its own. */
  used = 0;
  localUsed = 0;
  /**
   * Querier time of the last child (or local queue) picked here, after its charge: where a node that becomes active
   * starts.
   */
  vtime = 0;
  /** Recent cost of this node's sub-queries, for the charge at dispatch. */
  costMs: number;

  constructor(
    readonly name: string,
    readonly parent: QueueNode<T> | undefined,
    readonly weight: number,
    costMs: number,
  ) {
    this.costMs = costMs;
  }

  get path(): string[] {
    const p: string[] = [];
    for (let n: QueueNode<T> | undefined = this; n?.parent; n = n.parent) p.unshift(n.name);
    return p;
  }
}

/** Whether some actor at or below `node` has a request queued and nothing in flight. */
export function hasIdleActor<T>(node: QueueNode<T>): boolean {
  if (node.queued === 0) return false;
  if (node.local.size > 0 && node.inflight === 0) return true;
  for (const c of node.children.values()) if (hasIdleActor(c)) return true;
  return false;
}
