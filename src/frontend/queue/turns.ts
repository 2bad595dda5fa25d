import type { QueueNode } from "./node.js";

/** How siblings share: they take turns, or the one that used the least querier time goes next. */
export type Policy = "round-robin" | "querier-time";

/**
 * Whose turn it is among a node's children with something to run (`candidates`) and its local queue
 * (`hasLocal`): a child's name, or undefined for the local queue. Round-robin moves the node's cursor.
 */
export function nextTurn<T>(
  node: QueueNode<T>,
  policy: Policy,
  candidates: string[],
  hasLocal: boolean,
): string | undefined {
  if (policy === "round-robin") {
    // Loki's rotation: the local queue (slot -1), then each child in arrival order, then around.
    const last = node.order.length - 1;
    for (let i = 0, pos = node.cursor; i <= node.order.length; i++, pos = pos >= last ? -1 : pos + 1) {
      if (pos === -1 ? hasLocal : candidates.includes(node.order[pos]!)) {
        node.cursor = pos >= last ? -1 : pos + 1;
        return pos === -1 ? undefined : node.order[pos];
      }
    }
    return undefined;
  }
  // The least querier time used goes next; the local queue competes as one more child.
  let best = hasLocal ? node.localUsed : Infinity;
  let pick: string | undefined;
  for (const name of candidates) {
    const u = node.children.get(name)!.used;
    if (u < best) {
      best = u;
      pick = name;
    }
  }
  return pick;
}
