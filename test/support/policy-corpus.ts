// Queries that try to read outside a label policy, and claim values that try to widen one. The unit
// tests check every selector of each rewrite; the integration tests run them on real Prometheus
// and Loki and look for any series or stream outside the policy.

/** PromQL break-out attempts. */
export const PROMQL_ATTACKS = [
  '{__name__=~".+"}',
  '{__name__=~".*", namespace!="x"}',
  '{namespace!="x"}',
  'up{namespace=~".*"}',
  'up{namespace=~"team-a|team-b|.*"}',
  "up or on() vector(1)",
  '{__name__=~".+"} or up',
  "up unless up",
  "vector(1) unless on() up",
  'label_replace(up, "namespace", "team-a", "namespace", ".*")',
  'label_replace({__name__=~".+"}, "namespace", "$1", "job", "(.*)")',
  "count by (namespace) (up)",
  'count by (namespace) ({__name__=~".+"})',
  'count_values("namespace", up)',
  "sum without () (rate(http_requests_total[5m]))",
  "absent(up)",
  'absent(up{namespace="team-b"})',
  "absent_over_time(up[5m])",
  "max_over_time(up[10m:1m] offset 1m)",
  "max_over_time((up or http_requests_total)[10m:1m])",
  "rate(http_requests_total[5m] @ end() offset 1m)",
  "http_requests_total offset 1m @ start()",
  'topk(1000, {__name__=~".+"} * on() group_left() vector(1))',
  'up{namespace="team-b"} or up{namespace="team-a-1"}',
  'up{"namespace"!="x"}',
  '{"__name__"=~".+"}',
  "up{namespace!=`x`, namespace!='y'}",
  'up{namespace=~"(?i)TEAM-B"}',
  "scalar(up) + vector(1)",
  "timestamp(up)",
  'sort_desc(sum by (namespace) (rate({__name__=~"http_.*"}[5m])))',
  "sum by (namespace) (http_requests_total) / ignoring(namespace) group_left sum(http_requests_total)",
];

/** LogQL break-out attempts (log and metric queries). */
export const LOGQL_ATTACKS = [
  '{namespace=~".+"}',
  '{namespace!="x"}',
  '{app=~".+"} | namespace="team-b"',
  '{app=~".+"} | label_format namespace="team-a-1"',
  '{app=~".+"} | json | namespace=~".*"',
  'sum by (namespace) (count_over_time({app=~".+"}[5m]))',
  'count_over_time({namespace=~"team-a-1|team-b"}[5m])',
  'sum(rate({app=~".+"} |= "" [1m])) or vector(0)',
  'absent_over_time({namespace="team-b"}[5m])',
  'label_replace(count_over_time({app=~".+"}[5m]), "namespace", "team-a-1", "", "")',
  'sum by (namespace) (count_over_time({app=~".+"}[5m])) / on() group_left sum(count_over_time({app=~".+"}[5m]))',
  '{app=~".+", namespace=~"(?i)TEAM-B"}',
  "{app=~`.+`}",
];

/** Claim values that would change a selector if they were pasted into query text. */
export const CLAIM_ATTACKS = [
  '"}',
  'team-a", namespace=~".*',
  ".*",
  "team-a|team-b",
  "team-a\\",
  "team-a\\\\",
  "`",
  "'",
  "team\na",
  "チーム-a",
  "team-a-${x}",
  "$value",
  "(?i)team-b",
  "}",
  "\u0000",
  "😀",
];
