import { createHash } from "node:crypto";
import { STATUS_SCRIPT as SCRIPT } from "./status-script.js";

/**
 * The operators' status page (GET /status on the admin listener): one HTML page that polls
 * /debug/history and /debug/status every second and answers "who is using the queriers, since when,
 * and is it getting worse": charts over the last half hour, recently active actors and tenants, the
 * queue right now, queriers, cache and asynchronous queries. Its CSS and script are inline; the chart
 * library (uPlot) comes from this listener (/status/assets/). The Content-Security-Policy allows
 * exactly these and requests to this listener, nothing else: the page works offline.
 *
 * Tenant names, actor paths and querier errors are untrusted: the script writes every value with
 * textContent, never as HTML.
 */

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --bg: #f7f8fa; --panel: #fff; --line: #d9dde5; --ok: #1a7f37; --bad: #b42318; --accent: #2f5bd3; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #a3abba; --bg: #111318; --panel: #1a1d24; --line: #2d323c; --ok: #4ac26b; --bad: #ff7b72; --accent: #7aa2ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .25rem 1.5rem; padding: 1rem 1.5rem; border-bottom: 1px solid var(--line); background: var(--panel); }
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 0 0 .6rem; }
header p { margin: 0; color: var(--muted); }
#connection[data-state="ok"]::before { content: "\\25CF  "; color: var(--ok); }
#connection[data-state="error"] { color: var(--bad); font-weight: 600; }
main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1rem; padding: 1rem 1.5rem 2rem; }
@media (max-width: 60rem) { main { grid-template-columns: minmax(0, 1fr); } }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; min-width: 0; }
.wide { grid-column: 1 / -1; }
.summary { margin: 0 0 .6rem; color: var(--muted); }
.summary strong { color: var(--fg); font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: start; color: var(--muted); font-size: .85rem; padding-bottom: .4rem; }
th, td { padding: .35rem .6rem; border-bottom: 1px solid var(--line); text-align: start; vertical-align: top; }
thead th { font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: end; white-space: nowrap; }
tbody th { font-weight: 400; overflow-wrap: anywhere; }
.nowrap, tbody th.nowrap { white-space: nowrap; overflow-wrap: normal; }
header nav { margin-inline-start: auto; font-size: .9rem; }
header nav a { margin-inline-start: .8rem; }
a { color: var(--accent); }
tr[data-depth="0"] th { font-weight: 700; }
tr[data-depth] th { padding-inline-start: calc(.6rem + var(--depth, 0) * 1.4rem); }
.path { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .85em; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600; border: 1px solid currentColor; }
.badge.ok { color: var(--ok); }
.badge.bad { color: var(--bad); }
.error { color: var(--bad); overflow-wrap: anywhere; }
.empty { color: var(--muted); font-style: italic; margin: .4rem 0 0; }
#frontend, #frontend-tables { display: contents; }
header .facts strong { color: var(--fg); }
.glance { display: grid; grid-template-columns: repeat(auto-fit, minmax(9.5rem, 1fr)); gap: .75rem; margin: 0; }
.glance div { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .75rem; }
.glance dt { color: var(--muted); font-size: .85rem; }
.glance dd { margin: 0; font-size: 1.5rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.glance dd[data-state="bad"] { color: var(--bad); }
.note { color: var(--muted); font-size: .88rem; margin: .6rem 0 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(30rem, 1fr)); gap: 1rem; }
figure { margin: 0; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: .2rem; display: flex; gap: .5rem; align-items: baseline; flex-wrap: wrap; }
figcaption span { font-weight: 400; color: var(--muted); font-size: .85rem; }
.chart { min-height: 200px; position: relative; }
.chart .empty { position: absolute; top: 40%; width: 100%; text-align: center; }
.u-legend { font-size: .8rem; text-align: start; }
.u-legend .u-label { overflow-wrap: anywhere; }
th[data-col="tenant"] { min-width: 9rem; }
select { font: inherit; font-size: .85rem; max-width: 16rem; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .85em; }
[hidden], #frontend[hidden], #frontend-tables[hidden] { display: none; }
`;

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

const MODES: Record<string, string> = { all: "edge and frontend", edge: "edge only", frontend: "frontend only" };

/** The page and its headers, built once at start-up. `mode` is run()'s mode; `frontend` whether this process has one. */
export function statusPage(info: {
  mode: "all" | "edge" | "frontend";
  frontend: boolean;
  version: string;
  startedAt: number;
}): {
  html: string;
  headers: Record<string, string>;
} {
  const th = (label: string, explain?: string, num = true) =>
    `<th scope="col"${num ? ' class="num"' : ""}${explain ? ` title="${explain}"` : ""}>${label}</th>`;
  const useHeads = [
    th("Queued", "Sub-queries waiting for a querier now"),
    th("Running", "Sub-queries on a querier now"),
    th("Querier time", "Time queriers spent on its sub-queries in the window"),
    th("Sub-queries", "Sub-queries that went to a querier in the window"),
    th("Mean wait", "Mean time its sub-queries waited in the queue"),
    th("Longest wait"),
    th("Last active"),
  ].join("");
  const chart = (id: string, title: string, explain: string, extra = "") => `
    <figure>
      <figcaption>${title} <span>${explain}</span>${extra}</figcaption>
      <div class="chart" id="chart-${id}" data-chart="${id}"><p class="empty" id="chart-${id}-empty">No data yet</p></div>
    </figure>`;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fairgate status</title>
<link rel="stylesheet" href="status/assets/uplot.css">
<style>${STYLE}</style>
</head>
<body data-frontend="${info.frontend}" data-started="${info.startedAt}">
<header>
  <h1>fairgate status</h1>
  <p class="facts">Version <strong id="version">${info.version}</strong> · ${MODES[info.mode]} · up <strong id="uptime">–</strong>
  (since ${new Date(info.startedAt).toISOString().replace("T", " ").slice(0, 19)} UTC)</p>
  <p id="connection" role="status" aria-live="polite">Loading…</p>
  <p id="updated"></p>
  <nav aria-label="Raw data">${info.frontend ? '<a href="debug/status">/debug/status</a><a href="debug/queue">/debug/queue</a>' : ""}<a href="debug/history">/debug/history</a><a href="metrics">/metrics</a></nav>
</header>
<main>
  <section id="no-frontend" class="wide" aria-labelledby="no-frontend-title" hidden>
    <h2 id="no-frontend-title">No query frontend</h2>
    <p>This process runs the edge only: there is no queue, querier, results cache or asynchronous query to show here.
    The edge's request metrics are on <a href="metrics">/metrics</a>; the frontend it forwards to has a status page of its own.</p>
  </section>
  <div id="frontend" hidden>
  <section class="wide" aria-labelledby="glance-title">
    <h2 id="glance-title">Right now</h2>
    <dl class="glance">
      <div><dt title="Sub-queries in the fair queue, waiting for a free querier slot">Waiting for a querier</dt><dd id="glance-waiting">0</dd></div>
      <div><dt title="Sub-queries running on a querier">Running on queriers</dt><dd id="glance-running">0</dd></div>
      <div><dt title="Sub-queries the healthy queriers run at once">Querier slots</dt><dd id="glance-slots">0</dd></div>
      <div><dt>Healthy queriers</dt><dd id="glance-queriers">–</dd></div>
      <div><dt title="Requests answered per second, last 10 seconds (probes left out)">Requests per second</dt><dd id="glance-rps">0</dd></div>
      <div><dt title="Requests answered with a 5xx per second, last 10 seconds">Server errors per second</dt><dd id="glance-errors">0</dd></div>
    </dl>
    <p class="note">A query is split into pieces (sub-queries). Each query hands at most
    <strong id="max-parallelism">–</strong> pieces to the queue at a time (<code>max_query_parallelism</code>); its other
    pieces wait inside the query and are not counted as waiting here, so a flood shows fewer waiting sub-queries
    than it has pieces.</p>
  </section>
  </div>
  <section class="wide" aria-labelledby="charts-title">
    <h2 id="charts-title">The last <span id="chart-window">30 min</span></h2>
    <p class="summary">Sampled every <span id="chart-interval">1 s</span>, kept in memory (a restart starts afresh).</p>
    <div class="charts">
    ${chart(
      "busy",
      "Who is using the queriers",
      "querier slots in use (querier time per second), stacked; the dashed line is the healthy slots",
      '<select id="busy-tenant" aria-label="Break down by"><option value="">all tenants, by tenant</option></select>',
    )}
    ${chart("queue", "Queue length by tenant", "sub-queries waiting for a querier, stacked")}
    ${chart("wait", "Queue wait", "time in the queue of the sub-queries sent on in each sample: median, 99th percentile; and the oldest still waiting")}
    ${chart("requests", "Requests per second by status", "stacked, probes left out")}
    ${chart("cache", "Results cache hit ratio", "split pieces answered wholly from the cache, per sample")}
    </div>
  </section>
  <div id="frontend-tables" hidden>
  <section class="wide" aria-labelledby="actors-title">
    <h2 id="actors-title">Recently active actors</h2>
    <p class="summary">Everyone who ran a sub-query in the last <span class="window">15 min</span>, most querier time first, finished or not.
    An actor is a user's keyed hash in <code>X-Loki-Actor-Path</code>: <code>fairgate actor-hash --config FILE --issuer ISS --subject SUB</code>
    prints the hash of a user, to find them here.</p>
    <div class="scroll" id="actors-table-wrap" hidden>
      <table id="actors-table">
        <thead><tr>${th("Tenant", undefined, false)}${th("Actor path", undefined, false)}${useHeads}</tr></thead>
        <tbody id="actors-body"></tbody>
      </table>
    </div>
    <p class="empty" id="actors-empty">No sub-query has run in this window.</p>
    <p class="empty" id="actors-rest"></p>
  </section>
  <section class="wide" aria-labelledby="tenants-title">
    <h2 id="tenants-title">Recently active tenants</h2>
    <div class="scroll" id="tenants-table-wrap" hidden>
      <table id="tenants-table">
        <thead><tr>${th("Tenant", undefined, false)}${useHeads}</tr></thead>
        <tbody id="tenants-body"></tbody>
      </table>
    </div>
    <p class="empty" id="tenants-empty">No tenant has run a sub-query in this window.</p>
    <p class="empty" id="tenants-rest"></p>
  </section>
  <section id="queue-section" class="wide" aria-labelledby="queue-title">
    <h2 id="queue-title">The queue right now</h2>
    <p class="summary" id="queue-summary">Nothing waiting.</p>
    <div class="scroll" id="queue-table-wrap" hidden>
      <table id="queue-table">
        <caption>Tenants, then the actor paths below them; counts include the nodes below.
        Querier time: used in the last <span class="window">15 min</span>.
        Fair-queue charge: the querier time the fair queue has booked to the node, less a head start for having been idle;
        among siblings the lowest goes next. Weight: its configured share.</caption>
        <thead><tr>${th("Tenant / actor path", undefined, false)}${th("Queued")}${th("Running")}${th("Querier time")}${th("Fair-queue charge")}${th("Weight")}</tr></thead>
        <tbody id="queue-body"></tbody>
      </table>
    </div>
    <p class="empty" id="queue-empty">Nothing is queued or running.</p>
    <p class="empty" id="queue-truncated"></p>
  </section>
  <section class="wide" aria-labelledby="queriers-title">
    <h2 id="queriers-title">Queriers</h2>
    <div class="scroll">
      <table id="queriers-table">
        <caption>Health check, sub-queries running now, and use in the last <span class="window">15 min</span>.</caption>
        <thead><tr>${th("URL", undefined, false)}${th("Health", undefined, false)}${th("Running")}${th("Querier time")}${th("Sub-queries")}${th("Failures", "Failed health checks or requests in a row")}${th("Last error", undefined, false)}</tr></thead>
        <tbody id="queriers-body"></tbody>
      </table>
    </div>
  </section>
  <section aria-labelledby="cache-title">
    <h2 id="cache-title">Results cache</h2>
    <p class="summary">Hit ratio since start-up: <strong id="cache-ratio">no lookups yet</strong>.</p>
    <table id="cache-table">
      <caption>Split pieces of synchronous queries by cache outcome.</caption>
      <thead><tr>${th("Outcome", undefined, false)}${th("Pieces")}${th("Share")}</tr></thead>
      <tbody id="cache-body"></tbody>
    </table>
  </section>
  <section aria-labelledby="async-title">
    <h2 id="async-title">Asynchronous queries</h2>
    <p class="summary">In progress on this replica: <strong id="async-running">none</strong>.</p>
    <div class="scroll" id="async-table-wrap" hidden>
      <table id="async-table">
        <caption>The oldest 100 this replica runs.</caption>
        <thead><tr>${th("Tenants", undefined, false)}${th("Actor path", undefined, false)}${th("State", undefined, false)}${th("Pieces done")}${th("Submitted")}</tr></thead>
        <tbody id="async-body"></tbody>
      </table>
    </div>
    <p class="empty" id="async-empty">No asynchronous query is running here.</p>
  </section>
  </div>
</main>
<noscript><p>This page needs JavaScript; <a href="debug/status">/debug/status</a> and <a href="debug/history">/debug/history</a> have the same data as JSON.</p></noscript>
<script src="status/assets/uplot.js"></script>
<script>${SCRIPT}</script>
</body>
</html>
`;
  return {
    html,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      // Only this page's own script and style and the chart library from this listener run; it talks to this listener alone.
      "content-security-policy": `default-src 'none'; script-src 'self' ${sha256(SCRIPT)}; style-src 'self' ${sha256(STYLE)}; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    },
  };
}
