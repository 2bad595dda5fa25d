// Which parameters of which read route carry selectors, and how each is restricted. A request's
// parameters may come from the URL and from a form body at once: Loki and Prometheus read both (the
// body first for single values, both for match[]), so every value in every source is restricted,
// and a missing selector is added only when no source has one. Routes not listed here are refused
// under a policy: a route that cannot be scoped (rules, alerts, metric metadata) would show the
// whole tenant.
import { ApiError } from "../http/errors.js";
import { policySelector, restrictLogQL, restrictLogSelectors } from "./logql.js";
import type { LabelPolicy } from "./policy.js";
import { restrictPromQL, restrictPromSelectors } from "./promql.js";

type Restrict = (values: string[], policies: readonly LabelPolicy[]) => string[];

interface Scoped {
  /** The parameter, and the other names the API reads the same values from. */
  params: string[];
  restrict: Restrict;
  /** The selector to add when the request has none; undefined leaves the request as it is. */
  missing?: (policies: readonly LabelPolicy[]) => string[];
}

const each =
  (f: (q: string, p: readonly LabelPolicy[], what: string) => string, what: string): Restrict =>
  (values, policies) =>
    values.map((v) => f(v, policies, what));

const promQuery: Scoped = { params: ["query"], restrict: each(restrictPromQL, "query") };
const promMatch: Scoped = {
  params: ["match[]"],
  restrict: restrictPromSelectors,
  missing: (p) => restrictPromSelectors([], p),
};
const logQuery: Scoped = { params: ["query"], restrict: each(restrictLogQL, "query") };
const logSelectorQuery: Scoped = {
  ...logQuery,
  missing: (p) => {
    const s = policySelector(p);
    return s === undefined ? [] : [s];
  },
};
// Loki reads its series selectors from match[] and from match.
const logMatch: Scoped = {
  params: ["match[]", "match"],
  restrict: restrictLogSelectors,
  missing: (p) => restrictLogSelectors([], p),
};

const PROMETHEUS: [RegExp, Scoped[]][] = [
  [/^(query|query_range|query_exemplars)$/, [promQuery]],
  [/^(series|labels|label\/[^/]+\/values)$/, [promMatch]],
  [/^(format_query|parse_query|status\/buildinfo)$/, []],
];

// Loki routes that take one stream selector or query in `query` and answer about what it selects.
const LOKI_SELECTED = new RegExp(
  "^(labels|label/[^/]+/values|index/(stats|volume|volume_range)|detected_(labels|fields)" +
    "|detected_field/[^/]+/values|patterns|tail)$",
);

const LOKI: [RegExp, Scoped[]][] = [
  [/^(query|query_range)$/, [logQuery]],
  [/^series$/, [logMatch]],
  [LOKI_SELECTED, [logSelectorQuery]],
  [/^(format_query|status\/buildinfo|drilldown-limits)$/, []],
];

// Asynchronous query tickets: polled and cancelled by whoever submitted them, whose query was scoped.
const FAIRGATE: [RegExp, Scoped[]][] = [[/^async\/[^/]+(\/status)?$/, []]];

const API_PREFIXES: [string, [RegExp, Scoped[]][]][] = [
  ["/loki/api/v1/", LOKI],
  ["/prometheus/api/v1/", PROMETHEUS],
  ["/api/v1/", PROMETHEUS],
  ["/fairgate/api/v1/", FAIRGATE],
];

function routeOf(path: string): Scoped[] | undefined {
  for (const [prefix, table] of API_PREFIXES)
    if (path.startsWith(prefix)) return table.find(([re]) => re.test(path.slice(prefix.length)))?.[1];
  return undefined;
}

/**
 * Restricts a read request's parameters, in place, to what the policies allow. `sources` are the
 * URL's parameters and, for a form POST, the body's. Throws 400 for a query the grammar cannot
 * parse, 403 for a route or query the policies cannot be applied to.
 */
export function scopeRead(path: string, sources: URLSearchParams[], policies: readonly LabelPolicy[]): void {
  const scoped = routeOf(path);
  if (!scoped) throw new ApiError("forbidden", `${path} is not available to a user with label policies`);
  for (const s of scoped) {
    let present = false;
    for (const src of sources)
      for (const param of s.params) {
        if (!src.has(param)) continue;
        present = true;
        const restricted = s.restrict(src.getAll(param), policies);
        src.delete(param);
        for (const v of restricted) src.append(param, v);
      }
    if (!present && s.missing) for (const v of s.missing(policies)) sources[0]?.append(s.params[0]!, v);
  }
}
