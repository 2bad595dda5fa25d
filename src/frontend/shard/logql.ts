// The LogQL shard planner, for Loki queriers: the query is asked of every shard with Loki's
// `shards=i_of_n` parameter (0-based), which a querier applies to the streams it reads, so every
// stream is read by exactly one shard. What is sharded:
// - log queries: concatenated, then the `limit` entries nearest in the query's direction;
// - a range aggregation alone: count_over_time, rate, bytes_*, sum_over_time (series from several
//   streams add up), min_/max_over_time (min/max of the parts); any other range operation only when
//   no pipeline stage can give streams of two shards one label set (no parser, label_format, drop,
//   keep, no `by`/`without` on the range operation);
// - sum, count, min, max, avg (sum ÷ count), topk/bottomk over such a range aggregation, where
//   each series of the range aggregation is whole in one shard, or the outer operation merges its
//   parts as the inner one would (sum of sums, min of mins, max of maxes).
// Binary operations, literals, label_replace, nested vector aggregations, absent_over_time,
// stddev/stdvar/sort and quantile_over_time over merged streams stay whole.
import { parser } from "@grafana/lezer-logql";
import { type Grouping, notSharded, type Planned, type ShardMerge } from "./plan.js";
import { children, descendants, parsesCleanly, splice, type SyntaxNode, textOf, unquote } from "./syntax.js";

/** Range operations whose series may gather several streams: how their parts combine. */
const PARTS_COMBINE: Record<string, "sum" | "min" | "max"> = {
  count_over_time: "sum",
  rate: "sum",
  bytes_over_time: "sum",
  bytes_rate: "sum",
  sum_over_time: "sum",
  min_over_time: "min",
  max_over_time: "max",
};

/** Range operations that answer for each series alone (absent_over_time answers for none). */
const PER_SERIES = new Set([
  ...Object.keys(PARTS_COMBINE),
  "avg_over_time",
  "first_over_time",
  "last_over_time",
  "quantile_over_time",
  "stddev_over_time",
  "stdvar_over_time",
  "rate_counter",
]);

/** Pipeline stages that may give two streams the same labels. */
const MERGING_STAGES = new Set([
  "LabelParser",
  "JsonExpressionParser",
  "LogfmtParser",
  "LogfmtExpressionParser",
  "LabelFormatExpr",
  "DropLabelsExpr",
  "KeepLabelsExpr",
]);

export interface LogShardOptions {
  maxRegexpBytes: number;
}

function unwrapParens(n: SyntaxNode): SyntaxNode {
  let top = n;
  while ((top.name === "MetricExpr" || top.name === "Expr") && top.firstChild && !top.firstChild.nextSibling)
    top = top.firstChild;
  return top;
}

function grouping(node: SyntaxNode, src: string): Grouping {
  const g = node.getChild("Grouping");
  if (!g) return { without: false, labels: [] };
  const labels = g.getChild("Labels");
  return {
    without: !!g.getChild("Without"),
    labels: labels ? children(labels).map((l) => textOf(l, src)) : [],
  };
}

function regexTooLong(root: SyntaxNode, src: string, max: number): boolean {
  for (const m of descendants(root, new Set(["Matcher"]))) {
    const op = children(m).find((c) => c.name === "Re" || c.name === "Nre");
    const value = m.getChild("String");
    if (op && value && Buffer.byteLength(unquote(textOf(value, src))) > max) return true;
  }
  return false;
}

const sharded =
  (query: string, rewritten = query) =>
  (shard: number, of: number) => ({ query: rewritten, params: { shards: `${shard}_of_${of}` } });

/** Plans the shards of a LogQL range query (log or metric) for Loki queriers. */
export function planLogQL(query: string, opts: LogShardOptions): Planned {
  const root = parsesCleanly(parser, query);
  if (!root?.firstChild) return notSharded("not parsed");
  if (regexTooLong(root, query, opts.maxRegexpBytes))
    return notSharded(`regex longer than ${opts.maxRegexpBytes} bytes`);
  const top = unwrapParens(root.firstChild);
  if (top.name === "LogExpr") return { plan: { legs: [sharded(query)], merge: { kind: "logs" } } };

  if (top.name === "RangeAggregationExpr") {
    const range = rangeOp(top, query);
    if (!PER_SERIES.has(range.op)) return notSharded(`range operation ${range.op}`);
    const combine = PARTS_COMBINE[range.op];
    if (combine) return { plan: { legs: [sharded(query)], merge: { kind: "combine", op: combine } } };
    if (!range.apart) return notSharded(`${range.op} over streams a pipeline may merge`);
    return { plan: { legs: [sharded(query)], merge: { kind: "concat" } } };
  }
  if (top.name !== "VectorAggregationExpr") return notSharded(top.name === "BinOpExpr" ? "binary operation" : top.name);

  const opNode = top.getChild("VectorOp")!;
  const op = textOf(opNode, query).toLowerCase();
  const inner = unwrapParens(top.getChild("MetricExpr")!);
  if (inner.name !== "RangeAggregationExpr")
    return notSharded(inner.name === "VectorAggregationExpr" ? "nested aggregation" : inner.name);
  const range = rangeOp(inner, query);
  if (!PER_SERIES.has(range.op)) return notSharded(`range operation ${range.op}`);
  const partsMerge = (op === "sum" || op === "min" || op === "max") && PARTS_COMBINE[range.op] === op;
  if (!partsMerge && !range.apart) return notSharded(`${op} of ${range.op} over streams a pipeline may merge`);

  let merge: ShardMerge;
  let legs = [sharded(query)];
  switch (op) {
    case "sum":
    case "min":
    case "max":
      merge = { kind: "combine", op };
      break;
    case "count":
      merge = { kind: "combine", op: "sum" };
      break;
    case "avg": {
      const as = (to: string) => splice(query, [{ from: opNode.from, to: opNode.to, text: to }]);
      legs = [sharded(query, as("sum")), sharded(query, as("count"))];
      merge = { kind: "avg" };
      break;
    }
    case "topk":
    case "bottomk": {
      const k = Number(textOf(top.getChild("Number") ?? opNode, query));
      if (!Number.isInteger(k) || k < 1) return notSharded(`${op} with k not a positive whole number`);
      merge = { kind: "top", k, bottom: op === "bottomk", grouping: grouping(top, query) };
      break;
    }
    default:
      return notSharded(`aggregation ${op}`);
  }
  return { plan: { legs, merge } };
}

/** A range aggregation's operation, and whether each of its series is one stream's alone. */
function rangeOp(node: SyntaxNode, src: string): { op: string; apart: boolean } {
  const op = textOf(node.getChild("RangeOp")!, src);
  const apart = !node.getChild("Grouping") && descendants(node, MERGING_STAGES).length === 0;
  return { op, apart };
}
