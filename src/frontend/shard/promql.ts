// The PromQL shard planner, for Mimir queriers: each vector selector gets Mimir's
// `__query_shard__="i_of_n"` matcher (1-based), so every series is read by exactly one shard.
// What is sharded: an expression that works series by series ("series-local": selectors under
// per-series functions, offsets, @, subqueries, and arithmetic or comparison with a number) is
// concatenated; sum, count, min, max, group, avg (sum ÷ count) and topk/bottomk over such an
// expression are merged exactly from the shards' own aggregates. Anything that looks across series
// in a way the shards cannot see (nested aggregations, binary operations between vectors, absent,
// label_replace, histogram_quantile over classic buckets, quantile, stddev...) stays whole.
import { parser } from "@prometheus-io/lezer-promql";
import { type Grouping, notSharded, type Planned, type ShardMerge } from "./plan.js";
import { children, descendants, type Edit, parsesCleanly, splice, type SyntaxNode, textOf, unquote } from "./syntax.js";

/** Functions whose answer for a series depends on that series alone. */
const SERIES_LOCAL = new Set(
  [
    "abs acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max clamp_min cos cosh",
    "count_over_time day_of_month day_of_week day_of_year days_in_month deg delta deriv",
    "double_exponential_smoothing exp floor histogram_avg histogram_count histogram_fraction",
    "histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta increase irate",
    "last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month predict_linear",
    "present_over_time quantile_over_time rad rate resets round sgn sin sinh sqrt stddev_over_time",
    "stdvar_over_time sum_over_time tan tanh timestamp ts_of_max_over_time ts_of_min_over_time",
    "ts_of_last_over_time year",
  ]
    .join(" ")
    .split(" "),
);

/** Wrappers whose first child is the expression they modify. */
const WRAPPERS = new Set(["ParenExpr", "OffsetExpr", "StepInvariantExpr", "SubqueryExpr", "MatrixSelector"]);

const MERGES: Record<string, ShardMerge["kind"] | "count"> = {
  sum: "combine",
  min: "combine",
  max: "combine",
  group: "combine",
  count: "count",
  avg: "avg",
  topk: "top",
  bottomk: "top",
};

export interface PromShardOptions {
  /** Mimir's rule: a regex matcher longer than this many bytes leaves the query whole. */
  maxRegexpBytes: number;
}

const SHARD_LABEL = "__query_shard__";

type Check = { ok: true } | { ok: false; reason: string };
const ok: Check = { ok: true };
const no = (reason: string): Check => ({ ok: false, reason });

function isNumber(n: SyntaxNode): boolean {
  if (n.name === "NumberDurationLiteral" || n.name === "NumberLiteral") return true;
  if (n.name === "ParenExpr" || n.name === "UnaryExpr") return children(n).some(isNumber);
  return false;
}

/** The metric name a selector is sure to read, if it names one. */
function metricName(sel: SyntaxNode, src: string): string | undefined {
  const id = sel.getChild("Identifier");
  if (id) return textOf(id, src);
  for (const m of descendants(sel, new Set(["UnquotedLabelMatcher"]))) {
    const [name, op, value] = children(m);
    if (name && textOf(name, src) === "__name__" && op?.firstChild?.name === "EqlSingle" && value)
      return unquote(textOf(value, src));
  }
  return undefined;
}

const names = (n: SyntaxNode, src: string) =>
  new Set(descendants(n, new Set(["VectorSelector"])).map((s) => metricName(s, src) ?? "\0"));

/** Whether `n` works series by series, reading at least one selector. */
function seriesLocal(n: SyntaxNode, src: string): Check {
  switch (n.name) {
    case "VectorSelector":
      return ok;
    case "UnaryExpr":
      return seriesLocal(n.lastChild!, src);
    case "FunctionCall": {
      const fn = textOf(n.getChild("FunctionIdentifier")!, src);
      if (!SERIES_LOCAL.has(fn)) return no(`function ${fn}`);
      const args = children(n.getChild("FunctionCallBody")!);
      const vectors = args.filter((a) => !isNumber(a) && a.name !== "StringLiteral");
      if (vectors.length !== 1) return no(`function ${fn} without one series argument`);
      return seriesLocal(vectors[0]!, src);
    }
    case "BinaryExpr": {
      const [lhs, rhs] = [n.firstChild!, n.lastChild!];
      if (isNumber(lhs) && isNumber(rhs)) return no("no series selector");
      if (isNumber(lhs)) return seriesLocal(rhs, src);
      if (isNumber(rhs)) return seriesLocal(lhs, src);
      // `a{p1} or a{p2}` (as label policies write it): a series is on both sides in the same shard.
      const op = children(n).find((c) => c.from >= lhs.to && c.to <= rhs.from);
      if (op?.name === "Or") {
        const [l, r] = [names(lhs, src), names(rhs, src)];
        const same = l.size === 1 && r.size === 1 && [...l][0] === [...r][0] && !l.has("\0");
        if (!same) return no("or between different metrics");
        const left = seriesLocal(lhs, src);
        return left.ok ? seriesLocal(rhs, src) : left;
      }
      return no("binary operation between vectors");
    }
    case "AggregateExpr":
      return no("aggregation inside another expression");
    default:
      if (WRAPPERS.has(n.name) && n.firstChild) return seriesLocal(n.firstChild, src);
      if (isNumber(n) || n.name === "StringLiteral") return no("no series selector");
      return no(`expression ${n.name}`);
  }
}

function grouping(agg: SyntaxNode, src: string): Grouping {
  const mod = agg.getChild("AggregateModifier");
  if (!mod) return { without: false, labels: [] };
  const labels = children(mod.getChild("GroupingLabels")!).map((l) => {
    const t = textOf(l, src);
    return l.name === "QuotedLabelName" ? unquote(t) : t;
  });
  return { without: !!mod.getChild("Without"), labels };
}

/** Checks every selector may be sharded: no regex past the limit, no shard already chosen. */
function selectorsAllow(root: SyntaxNode, src: string, opts: PromShardOptions): Check {
  const matchers = descendants(root, new Set(["UnquotedLabelMatcher", "QuotedLabelMatcher"]));
  for (const m of matchers) {
    const parts = children(m);
    const name = parts[0] && textOf(parts[0], src);
    if (name === SHARD_LABEL || name === `"${SHARD_LABEL}"`) return no("already sharded");
    const op = parts.find((p) => p.name === "MatchOp")?.firstChild?.name;
    const value = parts.find((p) => p.name === "StringLiteral" && p !== parts[0]);
    if ((op === "EqlRegex" || op === "NeqRegex") && value) {
      const bytes = Buffer.byteLength(unquote(textOf(value, src)));
      if (bytes > opts.maxRegexpBytes) return no(`regex longer than ${opts.maxRegexpBytes} bytes`);
    }
  }
  return ok;
}

/** The shard matcher, first among the selector's matchers. */
function shardMatcher(sel: SyntaxNode, shard: string): Edit {
  const matcher = `${SHARD_LABEL}="${shard}"`;
  const list = sel.getChild("LabelMatchers");
  if (!list) return { from: sel.to, to: sel.to, text: `{${matcher}}` };
  const more = children(list).length > 0 ? ", " : "";
  return { from: list.from + 1, to: list.from + 1, text: `${matcher}${more}` };
}

/** Plans the shards of a PromQL range query for Mimir queriers. */
export function planPromQL(query: string, opts: PromShardOptions): Planned {
  const root = parsesCleanly(parser, query);
  if (!root?.firstChild) return notSharded("not parsed");
  const allowed = selectorsAllow(root, query, opts);
  if (!allowed.ok) return notSharded(allowed.reason);
  let top = root.firstChild;
  while (top.name === "ParenExpr" && top.firstChild) top = top.firstChild;

  const selectors = descendants(root, new Set(["VectorSelector"]));
  const legOf = (opNode?: SyntaxNode, op?: string) => (shard: number, of: number) => {
    const edits = selectors.map((s) => shardMatcher(s, `${shard + 1}_of_${of}`));
    if (opNode && op) edits.push({ from: opNode.from, to: opNode.to, text: op });
    return { query: splice(query, edits) };
  };

  if (top.name !== "AggregateExpr") {
    const local = seriesLocal(top, query);
    return local.ok ? { plan: { legs: [legOf()], merge: { kind: "concat" } } } : notSharded(local.reason);
  }
  const opNode = top.getChild("AggregateOp")!;
  const op = textOf(opNode, query).toLowerCase();
  const merge = MERGES[op];
  if (!merge) return notSharded(`aggregation ${op}`);
  const args = children(top.getChild("FunctionCallBody")!);
  const inner = args[args.length - 1]!;
  const local = seriesLocal(inner, query);
  if (!local.ok) return notSharded(local.reason);
  if (merge === "top") {
    const k = Number(args.length === 2 && isNumber(args[0]!) ? textOf(args[0]!, query) : Number.NaN);
    if (!Number.isInteger(k) || k < 1) return notSharded(`${op} with k not a positive whole number`);
    const plan = {
      legs: [legOf()],
      merge: { kind: "top" as const, k, bottom: op === "bottomk", grouping: grouping(top, query) },
    };
    return { plan };
  }
  if (merge === "avg")
    return { plan: { legs: [legOf(opNode, "sum"), legOf(opNode, "count")], merge: { kind: "avg" } } };
  const combine = merge === "count" ? "sum" : (op as "sum" | "min" | "max" | "group");
  return { plan: { legs: [legOf()], merge: { kind: "combine", op: combine } } };
}
