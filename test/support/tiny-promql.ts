// A tiny PromQL evaluator for property tests of the shard planner: selectors (with equality
// matchers, `__query_shard__` answered by a given shard assignment), arithmetic with a number,
// and the aggregations the planner shards, at each time of a range query, as Prometheus does.
import { parser } from "@prometheus-io/lezer-promql";

export type Labels = Record<string, string>;
/** Series by their labels, and each one's value at a time (undefined: no sample). */
export interface Data {
  labels: Labels[];
  valueAt(series: number, t: number): number | undefined;
}
export interface MatrixBody {
  status: "success";
  data: { resultType: "matrix"; result: { metric: Labels; values: [number, string][] }[] };
}
type Node = ReturnType<typeof parser.parse>["topNode"];
type Vector = { labels: Labels; v: number }[];

const kids = (n: Node) => {
  const out: Node[] = [];
  for (let c = n.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
};
const unq = (s: string) => JSON.parse(s) as string;
const keyOf = (l: Labels) => JSON.stringify(Object.entries(l).sort(([a], [b]) => (a < b ? -1 : 1)));
const fmt = (v: number) => (Number.isNaN(v) ? "NaN" : v === Infinity ? "+Inf" : v === -Infinity ? "-Inf" : String(v));

type ShardOf = (i: number, of: number) => number;

/** Evaluates `query` at `times`; `shardOf(series index, of)` answers shard matchers (0-based; matchers 1-based). */
export function evaluate(query: string, data: Data, times: number[], shardOf: ShardOf): MatrixBody {
  const top = parser.parse(query).topNode.firstChild!;
  const out = new Map<string, { metric: Labels; values: [number, string][] }>();
  for (const t of times)
    for (const { labels, v } of evalAt(top, query, data, shardOf, t)) {
      const k = keyOf(labels);
      if (!out.has(k)) out.set(k, { metric: labels, values: [] });
      out.get(k)!.values.push([t, fmt(v)]);
    }
  return { status: "success", data: { resultType: "matrix", result: [...out.values()] } };
}

function evalAt(n: Node, src: string, series: Data, shardOf: ShardOf, t: number): Vector {
  const text = (x: Node) => src.slice(x.from, x.to);
  switch (n.name) {
    case "ParenExpr":
      return evalAt(n.firstChild!, src, series, shardOf, t);
    case "VectorSelector": {
      const name = n.getChild("Identifier");
      const matchers = n.getChild("LabelMatchers") ? kids(n.getChild("LabelMatchers")!) : [];
      return series.labels.flatMap((labels, i) => {
        const v = series.valueAt(i, t);
        if (v === undefined || (name && labels.__name__ !== text(name))) return [];
        for (const m of matchers) {
          const [l, , value] = kids(m);
          const want = unq(text(value!));
          if (text(l!) === "__query_shard__") {
            const [shard, of] = want.split("_of_").map(Number);
            if (shardOf(i, of!) + 1 !== shard) return [];
          } else if ((labels[text(l!)] ?? "") !== want) return [];
        }
        return [{ labels, v }];
      });
    }
    case "BinaryExpr": {
      const [lhs, rhs] = [n.firstChild!, n.lastChild!];
      const k = Number(text(rhs));
      return evalAt(lhs, src, series, shardOf, t).map(({ labels, v }) => {
        const { __name__, ...rest } = labels;
        return { labels: rest, v: v * k };
      });
    }
    case "AggregateExpr":
      return aggregate(n, src, series, shardOf, t);
    default:
      throw new Error(`tiny evaluator: no ${n.name}`);
  }
}

function aggregate(n: Node, src: string, series: Data, shardOf: ShardOf, t: number) {
  const text = (x: Node) => src.slice(x.from, x.to);
  const op = text(n.getChild("AggregateOp")!);
  const args = kids(n.getChild("FunctionCallBody")!);
  const input = evalAt(args[args.length - 1]!, src, series, shardOf, t);
  const mod = n.getChild("AggregateModifier");
  const labels = mod ? kids(mod.getChild("GroupingLabels")!).map(text) : [];
  const without = !!mod?.getChild("Without");
  const groupLabels = (l: Labels): Labels =>
    without
      ? Object.fromEntries(Object.entries(l).filter(([k]) => k !== "__name__" && !labels.includes(k)))
      : Object.fromEntries(labels.filter((k) => l[k]).map((k) => [k, l[k]!]));
  const groups = new Map<string, { labels: Labels; items: Vector }>();
  for (const s of input) {
    const g = groupLabels(s.labels);
    const k = keyOf(g);
    if (!groups.has(k)) groups.set(k, { labels: g, items: [] });
    groups.get(k)!.items.push(s);
  }
  const out: Vector = [];
  for (const { labels: g, items } of groups.values()) {
    const vs = items.map((s) => s.v);
    const fold = (f: (a: number, b: number) => number) => vs.slice(1).reduce(f, vs[0]!);
    switch (op) {
      case "sum":
        out.push({ labels: g, v: fold((a, b) => a + b) });
        break;
      case "avg":
        out.push({ labels: g, v: fold((a, b) => a + b) / vs.length });
        break;
      case "count":
        out.push({ labels: g, v: vs.length });
        break;
      case "group":
        out.push({ labels: g, v: 1 });
        break;
      case "min":
        out.push({ labels: g, v: fold((a, b) => (a > b || Number.isNaN(a) ? b : a)) });
        break;
      case "max":
        out.push({ labels: g, v: fold((a, b) => (a < b || Number.isNaN(a) ? b : a)) });
        break;
      case "topk":
      case "bottomk": {
        const k = Number(text(args[0]!));
        const rank = (v: number) => (Number.isNaN(v) ? -Infinity : op === "topk" ? v : -v);
        out.push(...[...items].sort((a, b) => rank(b.v) - rank(a.v)).slice(0, k));
        break;
      }
      default:
        throw new Error(`tiny evaluator: no ${op}`);
    }
  }
  return out;
}
