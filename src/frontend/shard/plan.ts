import type { Params } from "../types.js";

/** How shard answers become the unsharded answer. */
export type ShardMerge =
  /** Series with the same labels are combined sample by sample (count is merged as a sum of counts). */
  | { kind: "combine"; op: "sum" | "min" | "max" | "group" }
  /** Each output series comes from one shard: a label set seen in two shards at one time is an error. */
  | { kind: "concat" }
  /** Two legs, sums and counts: sum of sums ÷ sum of counts. */
  | { kind: "avg" }
  /** The top (or bottom) k of the shards' own top k, per group and time. */
  | { kind: "top"; k: number; bottom: boolean; grouping: Grouping }
  /** Log entries: the `limit` nearest in the query's direction, over all shards. */
  | { kind: "logs" };

/** `by (a, b)`, `without (c)`, or neither (one group). */
export interface Grouping {
  without: boolean;
  labels: string[];
}

/** One shard's request: the query text and the parameters it adds. */
export interface ShardRequest {
  query: string;
  params?: Params;
}

/** A query cut into legs (avg has two: sums and counts), each asked of every shard. */
export interface ShardPlan {
  legs: ((shard: number, of: number) => ShardRequest)[];
  merge: ShardMerge;
}

/** Either a plan, or why the query is left whole: for logs and metrics (a short, stable phrase). */
export type Planned = { plan: ShardPlan } | { reason: string };

export const notSharded = (reason: string): Planned => ({ reason });
