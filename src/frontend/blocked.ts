import { parser } from "@grafana/lezer-logql";
import type { BlockedQuery, BlockedRequest } from "../config/schema.js";
import type { Api, Params } from "./types.js";
import { queryHash } from "./query-stats.js";

/** LogQL's query types, as Loki names them in its query log and its blocked_queries: every PromQL query is metric. */
export type QueryType = "metric" | "filter" | "limited";

/**
 * metric: a sample expression (rate, count_over_time, vector...); filter: a log query with a line or label
 * filter; limited: a log query without (Loki's HasFilter). Unparsable text is called limited: the querier
 * refuses it anyway.
 */
export function queryType(api: Api, query: string): QueryType {
  if (api === "prometheus") return "metric";
  const tree = parser.parse(query);
  let type: QueryType = "limited";
  tree.iterate({
    enter(node) {
      if (node.name === "MetricExpr" && type === "limited") type = "metric";
      if ((node.name === "LineFilter" || node.name === "LabelFilter") && type === "limited") type = "filter";
      return type === "limited";
    },
  });
  return type;
}

/** The `source` of an X-Query-Tags header ("Source=grafana,Feature=beta"), lower-cased. */
export function querySource(tags: string | null): string | undefined {
  if (!tags) return undefined;
  for (const part of tags.split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === "source")
      return part
        .slice(eq + 1)
        .trim()
        .toLowerCase();
  }
  return undefined;
}

export interface QueryFacts {
  api: Api;
  query: string;
  /** X-Query-Tags, as the client sent it. */
  tags: string | null;
}

const regexes = new Map<string, RegExp>();
const regexOf = (pattern: string) => {
  let r = regexes.get(pattern);
  if (!r) {
    if (regexes.size >= 1000) regexes.clear();
    regexes.set(pattern, (r = new RegExp(pattern)));
  }
  return r;
};

/** Whether a rule matches a query: every part it gives does. */
export function matches(rule: BlockedQuery, facts: QueryFacts, type = queryType(facts.api, facts.query)): boolean {
  const query = facts.query.trim();
  if (rule.pattern !== undefined && !(rule.regex ? regexOf(rule.pattern).test(query) : rule.pattern.trim() === query))
    return false;
  if (rule.hash !== undefined && rule.hash !== queryHash(facts.query)) return false;
  if (rule.types !== undefined && !rule.types.includes(type)) return false;
  if (rule.source !== undefined && rule.source.toLowerCase() !== querySource(facts.tags)) return false;
  return true;
}

/** The first rule that matches the query, in the order given. */
export function firstMatch(rules: readonly BlockedQuery[], facts: QueryFacts): BlockedQuery | undefined {
  if (rules.length === 0) return undefined;
  const type = queryType(facts.api, facts.query);
  return rules.find((r) => matches(r, facts, type));
}

export interface RequestFacts {
  /** The canonical path, e.g. /api/v1/series. */
  path: string;
  method: string;
  params: Params;
}

/** The first request rule every part of which matches: path, method, and each named parameter (any value). */
export function blockedRequest(rules: readonly BlockedRequest[], req: RequestFacts): BlockedRequest | undefined {
  return rules.find(
    (r) =>
      (r.path === undefined || r.path === req.path) &&
      (r.method === undefined || r.method === req.method) &&
      Object.entries(r.query_params ?? {}).every(([name, want]) => {
        const got = req.params[name];
        const values = got === undefined ? [] : Array.isArray(got) ? got : [got];
        return values.some((v) => (want.is_regexp ? regexOf(`^(?:${want.value})$`).test(v) : v === want.value));
      }),
  );
}
