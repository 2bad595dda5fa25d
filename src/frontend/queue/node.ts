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
  /** Of `used`, the estimates charged for sub-queries still in flight (divided by weight). */
  pending = 0;
  /**
   * Querier time of the last child (or local queue) picked here when it was picked (its start, before the
   * charge): where a node that becomes active starts.
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

/** What a node has used, less the estimates of its pieces still running: where its running work started. */
export const started = <T>(n: QueueNode<T>) => n.used - n.pending;

/** Whether some actor at or below `node` has a request queued and nothing in flight. */
export function hasIdleActor<T>(node: QueueNode<T>): boolean {
  if (node.queued === 0) return false;
  if (node.local.size > 0 && node.inflight === 0) return true;
  for (const c of node.children.values()) if (hasIdleActor(c)) return true;
  return false;
}
