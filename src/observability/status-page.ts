import { createHash } from "node:crypto";

/**
 * The operators' status page (GET /status on the admin listener): one self-contained HTML page that
 * polls /debug/status every second and shows the queue tree, the queriers, the cache and the
 * asynchronous queries. No build step: CSS and script are inline, and a Content-Security-Policy
 * allows exactly these two (by hash) and requests to this listener, nothing else.
 *
 * Tenant names, actor paths and querier errors are untrusted: the script writes every value with
 * textContent, never as HTML.
 */

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --bg: #f7f8fa; --panel: #fff; --line: #d9dde5;
  --ok: #1a7f37; --bad: #b42318; --accent: #2f5bd3; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #a3abba; --bg: #111318; --panel: #1a1d24;
  --line: #2d323c; --ok: #4ac26b; --bad: #ff7b72; --accent: #7aa2ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .25rem 1.5rem; padding: 1rem 1.5rem;
  border-bottom: 1px solid var(--line); background: var(--panel); }
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 0 0 .6rem; }
header p { margin: 0; color: var(--muted); }
#connection[data-state="ok"]::before { content: "\\25CF  "; color: var(--ok); }
#connection[data-state="error"] { color: var(--bad); font-weight: 600; }
main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 2fr); gap: 1rem; padding: 1rem 1.5rem 2rem; }
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
.badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600;
  border: 1px solid currentColor; }
.badge.ok { color: var(--ok); }
.badge.bad { color: var(--bad); }
.error { color: var(--bad); overflow-wrap: anywhere; }
.empty { color: var(--muted); font-style: italic; margin: .4rem 0 0; }
#frontend { display: contents; }
[hidden], #frontend[hidden] { display: none; }
`;

/* The client. A plain string, not a function's source: what a bundler or test runner does to
   TypeScript never reaches the browser. Every value goes in with textContent. */
const SCRIPT = `
"use strict";
(() => {
  const POLL_MS = 1000;
  const MAX_ROWS = 500;
  const $ = (id) => document.getElementById(id);
  const number = new Intl.NumberFormat();
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  const numCell = (value, col) => {
    const td = el("td", typeof value === "number" ? number.format(value) : value, "num");
    if (col) td.dataset.col = col;
    return td;
  };
  const duration = (ms) => {
    const sign = ms < 0 ? "\u2212" : "", a = Math.abs(ms);
    if (a < 1000) return sign + Math.round(a) + " ms";
    return sign + (a < 60000 ? (a / 1000).toFixed(2) + " s" : (a / 60000).toFixed(1) + " min");
  };
  const percent = (part, total) => (total > 0 ? ((100 * part) / total).toFixed(1) + " %" : "n/a");
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "not yet");
  const show = (id, visible) => { $(id).hidden = !visible; };

  function setConnection(ok, text) {
    const c = $("connection");
    c.dataset.state = ok ? "ok" : "error";
    if (c.textContent !== text) c.textContent = text; // a live region: only changes are announced
  }

  function renderQueue(queue, querierMsByTenant) {
    const used = new Map(querierMsByTenant);
    $("queue-total").textContent = number.format(queue.queued || 0);
    const tenants = (queue.tenants || []).slice();
    const rows = [];
    let nodes = 0;
    const busy = (n) => n.queued + n.inflight;
    const order = (a, b) => busy(b) - busy(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    const walk = (node, depth, path) => {
      nodes++;
      if (rows.length >= MAX_ROWS) return;
      const tr = el("tr");
      tr.dataset.depth = String(depth);
      tr.style.setProperty("--depth", String(depth));
      const th = el("th", depth === 0 ? node.name : path.join(" | "), depth === 0 ? "" : "path");
      th.scope = "row";
      th.dataset.col = "node";
      const real = depth === 0 && used.has(node.name) ? duration(used.get(node.name)) : "\u2014";
      tr.append(th, numCell(node.queued, "queued"), numCell(node.inflight, "inflight"), numCell(real, "querier-time"),
        numCell(duration(node.querier_time_ms || 0), "fair-clock"), numCell(node.weight, "weight"));
      rows.push(tr);
      for (const child of node.children.slice().sort(order)) walk(child, depth + 1, path.concat(child.name));
    };
    for (const t of tenants.sort(order)) walk(t, 0, []);
    $("queue-body").replaceChildren(...rows);
    $("queue-tenants").textContent = number.format(tenants.length);
    show("queue-table-wrap", rows.length > 0);
    show("queue-empty", rows.length === 0);
    $("queue-truncated").textContent = nodes > rows.length
      ? "Showing the first " + rows.length + " of " + nodes + " nodes (the whole tree is on /debug/queue)."
      : "";
  }

  function renderQueriers(queriers) {
    const rows = queriers.map((q) => {
      const tr = el("tr");
      const th = el("th", q.url, "path nowrap");
      th.scope = "row";
      const health = el("td");
      health.append(el("span", q.healthy ? "healthy" : "unhealthy", q.healthy ? "badge ok" : "badge bad"));
      tr.append(th, health, numCell(q.inflight + " / " + q.maxConcurrent, "inflight"), numCell(q.failures, "failures"),
        el("td", q.lastError || "none", q.lastError ? "error" : ""));
      return tr;
    });
    $("queriers-body").replaceChildren(...rows);
    const healthy = queriers.filter((q) => q.healthy).length;
    $("queriers-healthy").textContent = healthy + " of " + queriers.length;
  }

  function renderCache(cache) {
    const total = cache.hits + cache.partial + cache.misses;
    $("cache-ratio").textContent = percent(cache.hits, total);
    const counts = [["Hits", cache.hits], ["Partial hits", cache.partial], ["Misses", cache.misses]];
    const rows = counts.concat([["All pieces", total]]).map(([label, value]) => {
      const tr = el("tr");
      const th = el("th", label);
      th.scope = "row";
      tr.append(th, numCell(value), numCell(percent(value, total)));
      return tr;
    });
    $("cache-body").replaceChildren(...rows);
  }

  function renderAsync(a) {
    $("async-running").textContent = number.format(a.running);
    const states = Object.keys(a.states).sort();
    $("async-states").textContent = states.length ? states.map((s) => s + " " + a.states[s]).join(", ") : "none";
    const rows = a.jobs.map((j) => {
      const tr = el("tr");
      const th = el("th", j.tenants.join(" | "));
      th.scope = "row";
      const p = j.progress;
      const splits = p.splitsTotal ? p.splitsDone + " / " + p.splitsTotal : "not started";
      tr.append(th, el("td", j.actorPath.split("|").join(" | "), "path"), el("td", j.state), numCell(splits),
        numCell(time(j.submittedAt)));
      return tr;
    });
    $("async-body").replaceChildren(...rows);
    show("async-table-wrap", rows.length > 0);
    show("async-empty", rows.length === 0);
  }

  async function poll() {
    try {
      const res = await fetch("debug/status", { cache: "no-store", headers: { accept: "application/json" },
        signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error("/debug/status answered " + res.status);
      const s = await res.json();
      renderQueue(s.queue, s.querierMsByTenant || []);
      renderQueriers(s.queriers);
      renderCache(s.cache);
      renderAsync(s.async);
      setConnection(true, "Live, updated every second");
      $("updated").textContent = "Last update " + new Date().toLocaleTimeString();
      show("frontend", true);
    } catch (e) {
      setConnection(false, "Cannot reach /debug/status (" + (e && e.message ? e.message : String(e)) + "); retrying");
    }
    setTimeout(poll, POLL_MS);
  }

  if (document.body.dataset.frontend === "true") void poll();
  else {
    show("no-frontend", true);
    setConnection(true, "No query frontend in this process");
  }
})();
`;

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

const FRONTEND_LINKS = '<a href="debug/status">/debug/status</a><a href="debug/queue">/debug/queue</a>';
const MODES: Record<string, string> = { all: "edge and frontend", edge: "edge only", frontend: "frontend only" };

/**
 * The page and its headers, built once at start-up. `mode` is run()'s mode; `frontend` whether this
 * process has one.
 */
export function statusPage(info: { mode: "all" | "edge" | "frontend"; frontend: boolean }): {
  html: string;
  headers: Record<string, string>;
} {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fairgate status</title>
<style>${STYLE}</style>
</head>
<body data-frontend="${info.frontend}">
<header>
  <h1>fairgate status</h1>
  <p>Mode: <strong>${MODES[info.mode]}</strong></p>
  <p id="connection" role="status" aria-live="polite">Loading…</p>
  <p id="updated"></p>
  <nav aria-label="Raw data">${info.frontend ? FRONTEND_LINKS : ""}<a href="metrics">/metrics</a></nav>
</header>
<main>
  <section id="no-frontend" class="wide" aria-labelledby="no-frontend-title" hidden>
    <h2 id="no-frontend-title">No query frontend</h2>
    <p>This process runs the edge only: there is no queue, querier, results cache or asynchronous query to show here.
    The edge's request metrics are on <a href="metrics">/metrics</a>; the frontend it forwards to has a
    status page of its own.</p>
  </section>
  <div id="frontend" hidden>
  <section id="queue-section" class="wide" aria-labelledby="queue-title">
    <h2 id="queue-title">Queue</h2>
    <p class="summary"><strong id="queue-total">0</strong> sub-queries waiting; <strong id="queue-tenants">0</strong>
      tenants with work queued or running.</p>
    <div class="scroll" id="queue-table-wrap" hidden>
      <table id="queue-table">
        <caption>Tenants, then the actor paths below them (X-Loki-Actor-Path); counts include the nodes below.
        Querier time: what the tenant's sub-queries have used since start-up.
        Fair-share clock: the querier time the fair queue has charged a node, less its activation credit; the sibling
          lowest on it goes next.</caption>
        <thead><tr><th scope="col">Tenant / actor path</th><th scope="col" class="num">Queued</th>
          <th scope="col" class="num">In flight</th><th scope="col" class="num">Querier time</th>
          <th scope="col" class="num">Fair-share clock</th><th scope="col" class="num">Weight</th></tr></thead>
        <tbody id="queue-body"></tbody>
      </table>
    </div>
    <p class="empty" id="queue-empty">Nothing is queued or in flight.</p>
    <p class="empty" id="queue-truncated"></p>
  </section>
  <section class="wide" aria-labelledby="queriers-title">
    <h2 id="queriers-title">Queriers</h2>
    <p class="summary"><strong id="queriers-healthy">–</strong> healthy.</p>
    <div class="scroll">
      <table id="queriers-table">
        <caption>Each querier's health check and the sub-queries running on it.</caption>
        <thead><tr><th scope="col">URL</th><th scope="col">Health</th><th scope="col" class="num">In flight</th>
          <th scope="col" class="num">Failures</th><th scope="col">Last error</th></tr></thead>
        <tbody id="queriers-body"></tbody>
      </table>
    </div>
  </section>
  <section aria-labelledby="cache-title">
    <h2 id="cache-title">Results cache</h2>
    <p class="summary">Hit ratio <strong id="cache-ratio">n/a</strong> (pieces answered wholly from the cache, since
      start-up).</p>
    <table id="cache-table">
      <caption>Split pieces of synchronous queries by cache outcome.</caption>
      <thead><tr><th scope="col">Outcome</th><th scope="col" class="num">Pieces</th>
        <th scope="col" class="num">Share</th></tr></thead>
      <tbody id="cache-body"></tbody>
    </table>
  </section>
  <section aria-labelledby="async-title">
    <h2 id="async-title">Asynchronous queries</h2>
    <p class="summary"><strong id="async-running">0</strong> in progress on this replica (by state:
      <span id="async-states">none</span>).</p>
    <div class="scroll" id="async-table-wrap" hidden>
      <table id="async-table">
        <caption>The oldest 100 jobs this replica runs.</caption>
        <thead><tr><th scope="col">Tenants</th><th scope="col">Actor path</th><th scope="col">State</th>
          <th scope="col" class="num">Splits done</th><th scope="col" class="num">Submitted</th></tr></thead>
        <tbody id="async-body"></tbody>
      </table>
    </div>
    <p class="empty" id="async-empty">No asynchronous query is running here.</p>
  </section>
  </div>
</main>
<noscript><p>This page needs JavaScript; <a href="debug/status">/debug/status</a> has the same data as JSON.</p>
  </noscript>
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
      // Only this page's own script and style run, and it talks to this listener alone.
      "content-security-policy":
        `default-src 'none'; script-src ${sha256(SCRIPT)}; style-src ${sha256(STYLE)}; connect-src 'self'; ` +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    },
  };
}
