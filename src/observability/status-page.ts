import { createHash } from "node:crypto";
import { statusScript } from "./status-script.js";
import { STATUS_STYLE as STYLE } from "./status-style.js";

/**
 * The operators' status page (GET /status on the admin listener): one HTML page that polls
 * /debug/history and /debug/status every second and answers "who is using the queriers, since when,
 * and is it getting worse": charts over the last half hour, recently active actors and tenants, the
 * queue right now, queriers, cache and asynchronous queries. Its CSS and script are inline; the chart
 * library (uPlot) comes from this listener (/status/assets/). The Content-Security-Policy allows
 * exactly these and requests to this listener, nothing else: the page works offline.
 *
 * Tenant names, actor paths and querier errors are untrusted: the script writes every value with
 * textContent, never as HTML. The HTML here holds only fixed text and the version.
 */

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

const MODES: Record<string, string> = { all: "edge and frontend", edge: "edge only", frontend: "frontend only" };

/** A table head: [label, explanation?]; labels of number columns start with "#". */
const head = (...cols: [string, string?][]) =>
  `<thead><tr>${cols
    .map(([label, explain]) => {
      const num = label.startsWith("#");
      const title = explain ? ` title="${explain}"` : "";
      return `<th scope="col"${num ? ' class="num"' : ""}${title}>${num ? label.slice(1) : label}</th>`;
    })
    .join("")}</tr></thead>`;

const USE: [string, string?][] = [
  ["#Queued", "Sub-queries waiting for a querier now"],
  ["#Running", "Sub-queries on a querier now"],
  ["#Querier time", "Time queriers spent on its sub-queries in the window"],
  ["#Sub-queries", "Sub-queries that went to a querier in the window"],
  ["#Mean wait", "Mean time its sub-queries waited in the queue"],
  ["#Longest wait"],
  ["#Last active"],
];

const chart = (id: string, title: string, explain: string, extra = "") => `
  <figure>
    <figcaption>${title} <span>${explain}</span>${extra}</figcaption>
    <div class="chart" id="chart-${id}" data-chart="${id}">
      <p class="empty" id="chart-${id}-empty">No data yet</p>
    </div>
  </figure>`;

const CHARTS = `
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
  ${chart(
    "queue",
    "Queue length by tenant",
    "sub-queries waiting for a querier, stacked; the dashed line is the pieces held back inside their queries",
  )}
  ${chart(
    "wait",
    "Queue wait",
    "time in the queue of the sub-queries sent on in each sample (median, 99th percentile), " +
      "and of the oldest still waiting",
  )}
  ${chart("requests", "Requests per second by status", "stacked, probes left out")}
  ${chart("cache", "Results cache hit ratio", "split pieces answered wholly from the cache, per sample")}
  </div>
</section>`;

const GLANCE = `
<section class="wide" aria-labelledby="glance-title">
  <h2 id="glance-title">Right now</h2>
  <dl class="glance">
    <div><dt title="Sub-queries in the fair queue, waiting for a free querier slot">Waiting for a querier</dt>
      <dd id="glance-waiting">0</dd></div>
    <div><dt title="Pieces of split queries not handed to the queue yet (max_query_parallelism)">Held back in their
      queries</dt><dd id="glance-held">0</dd></div>
    <div><dt title="Sub-queries running on a querier">Running on queriers</dt><dd id="glance-running">0</dd></div>
    <div><dt title="Sub-queries the healthy queriers run at once">Querier slots</dt><dd id="glance-slots">0</dd></div>
    <div><dt>Healthy queriers</dt><dd id="glance-queriers">–</dd></div>
    <div><dt title="Requests answered per second, last 10 seconds (probes left out)">Requests per second</dt>
      <dd id="glance-rps">0</dd></div>
    <div><dt title="Requests answered with a 5xx per second, last 10 seconds">Server errors per second</dt>
      <dd id="glance-errors">0</dd></div>
  </dl>
  <p class="note">A query is split into pieces (sub-queries). Each query hands at most
  <strong id="max-parallelism">–</strong> of its pieces to the queue at a time (<code>max_query_parallelism</code>);
  the others are held back inside the query until one of its pieces is answered. The
  <span id="glance-all">0</span> pieces not yet answered are <em>waiting</em> + <em>held back</em> +
  <em>running</em>.</p>
</section>`;

const WINDOW = '<span class="window">15 min</span>';

const TABLES = `
<section class="wide" aria-labelledby="actors-title">
  <h2 id="actors-title">Recently active actors</h2>
  <p class="summary">Everyone who ran a sub-query in the last ${WINDOW}, most querier time first, finished or
  not. An actor is a user's keyed hash in <code>X-Loki-Actor-Path</code>;
  <code>fairgate actor-hash --config FILE --issuer ISS --subject SUB</code> prints a user's hash, to find them here.</p>
  <div class="scroll" id="actors-table-wrap" hidden>
    <table id="actors-table">
      ${head(["Tenant"], ["Actor path"], ...USE)}
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
      ${head(["Tenant"], ...USE)}
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
      Querier time: used in the last ${WINDOW}.
      Fair-queue charge: the querier time the fair queue has booked to the node, less a head start for having
      been idle; among siblings the lowest goes next (a configured weight other than 1 is shown beside it).</caption>
      ${head(["Tenant / actor path"], ["#Queued"], ["#Running"], ["#Querier time"], ["#Fair-queue charge"])}
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
      <caption>Health check, sub-queries running now, and use in the last ${WINDOW}.</caption>
      ${head(
        ["URL"],
        ["Health"],
        ["#Running"],
        ["#Querier time"],
        ["#Sub-queries"],
        ["#Failures", "Failed health checks or requests in a row"],
        ["Last error"],
      )}
      <tbody id="queriers-body"></tbody>
    </table>
  </div>
</section>
<section class="wide" id="replicas" aria-labelledby="replicas-title" hidden>
  <h2 id="replicas-title">Replicas</h2>
  <p class="summary">Live: <strong id="replicas-live"></strong>. The querier slots above are this replica's share.</p>
  <div class="scroll">
    <table id="replicas-table">
      <caption>Tenants this replica served, and the replica whose fair queue runs their sub-queries now.</caption>
      ${head(["Tenant"], ["Owner"])}
      <tbody id="replicas-body"></tbody>
    </table>
  </div>
</section>
<section aria-labelledby="cache-title">
  <h2 id="cache-title">Results cache</h2>
  <p class="summary">Hit ratio since start-up: <strong id="cache-ratio">no lookups yet</strong>.</p>
  <table id="cache-table">
    <caption>Split pieces of synchronous queries by cache outcome.</caption>
    ${head(["Outcome"], ["#Pieces"], ["#Share"])}
    <tbody id="cache-body"></tbody>
  </table>
</section>
<section aria-labelledby="async-title">
  <h2 id="async-title">Asynchronous queries</h2>
  <p class="summary">In progress on this replica: <strong id="async-running">none</strong>.</p>
  <div class="scroll" id="async-table-wrap" hidden>
    <table id="async-table">
      <caption>The oldest 100 this replica runs.</caption>
      ${head(["Tenants"], ["Actor path"], ["State"], ["#Pieces done"], ["#Submitted"])}
      <tbody id="async-body"></tbody>
    </table>
  </div>
  <p class="empty" id="async-empty">No asynchronous query is running here.</p>
</section>`;

/** The page and its headers, built once at start-up: `mode` is run()'s, `frontend` whether this process has one. */
export function statusPage(info: {
  mode: "all" | "edge" | "frontend";
  frontend: boolean;
  version: string;
  startedAt: number;
}): {
  html: string;
  headers: Record<string, string>;
} {
  const script = statusScript();
  const since = new Date(info.startedAt).toISOString().replace("T", " ").slice(0, 19);
  const links = [...(info.frontend ? ["debug/status", "debug/queue"] : []), "debug/history", "metrics"].map(
    (l) => `<a href="${l}">/${l}</a>`,
  );
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
  <p class="facts">Version <strong id="version">${info.version}</strong> · ${MODES[info.mode]} ·
  up <strong id="uptime">–</strong> (since ${since} UTC)</p>
  <p id="connection" role="status" aria-live="polite">Loading…</p>
  <p id="updated"></p>
  <p id="runtime-config" role="status" hidden></p>
  <nav aria-label="Raw data">${links.join("")}</nav>
</header>
<main>
  <section id="no-frontend" class="wide" aria-labelledby="no-frontend-title" hidden>
    <h2 id="no-frontend-title">No query frontend</h2>
    <p>This process runs the edge only: there is no queue, querier, results cache or asynchronous query to show
    here; the chart below shows the requests it answered. The frontend it forwards to has a status page of its own.</p>
  </section>
  <div id="frontend" hidden>${GLANCE}</div>
  ${CHARTS}
  <div id="frontend-tables" hidden>${TABLES}</div>
</main>
<noscript><p>This page needs JavaScript; <a href="debug/status">/debug/status</a> and
<a href="debug/history">/debug/history</a> have the same data as JSON.</p></noscript>
<script src="status/assets/uplot.js"></script>
<script>${script}</script>
</body>
</html>
`;
  const csp = [
    "default-src 'none'",
    // This page's own script and style, and the chart library from this listener; nothing else runs.
    `script-src 'self' ${sha256(script)}`,
    `style-src 'self' ${sha256(STYLE)}`,
    // It talks to this listener alone.
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ];
  return {
    html,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "content-security-policy": csp.join("; "),
    },
  };
}
