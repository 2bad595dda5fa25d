/* The status page's client. A plain string, not a function's source: what a bundler or test runner
   does to TypeScript never reaches the browser. Every untrusted value (tenant, actor path, querier
   error) goes in with textContent or as a property, never as HTML; uPlot writes labels as text too. */
export const STATUS_SCRIPT = String.raw`
"use strict";
(() => {
  const POLL_MS = 1000;
  const OTHERS = "\u0000others";
  const $ = (id) => document.getElementById(id);
  const number = new Intl.NumberFormat();
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  const cell = (value, col, cls) => {
    const td = el("td", typeof value === "number" ? number.format(value) : value, cls || "num");
    if (col) td.dataset.col = col;
    return td;
  };
  const rowHead = (text, cls, col) => {
    const th = el("th", text, cls);
    th.scope = "row";
    if (col) th.dataset.col = col;
    return th;
  };
  const duration = (ms) => {
    const a = Math.abs(ms);
    const one = (v) => v.toFixed(1).replace(/\.0$/, "");
    if (a < 1000) return Math.round(a) + " ms";
    if (a < 60000) return one(a / 1000) + " s";
    return a < 3600000 ? one(a / 60000) + " min" : one(a / 3600000) + " h";
  };
  const uptime = (ms) => {
    const m = Math.floor(ms / 60000), h = Math.floor(m / 60), d = Math.floor(h / 24);
    if (d) return d + " d " + (h % 24) + " h";
    return h ? h + " h " + (m % 60) + " min" : m ? m + " min" : Math.floor(ms / 1000) + " s";
  };
  const plural = (n, one, many) => number.format(n) + " " + (n === 1 ? one : many);
  const percent = (part, total) => (total > 0 ? ((100 * part) / total).toFixed(1) + " %" : "\u2013");
  const show = (id, visible) => { $(id).hidden = !visible; };
  // Actor paths read as in the logs and tables, "users|5f0c…", so a copied path greps.
  const label = (key) => (key === OTHERS ? "others" : key === "" ? "(no actor path)" : key);
  let serverNow = Date.now();
  const ago = (iso) => {
    if (!iso) return "never";
    const s = Math.max(0, Math.round((serverNow - Date.parse(iso)) / 1000));
    return s < 2 ? "just now" : s < 120 ? s + " s ago" : Math.round(s / 60) + " min ago";
  };

  function setConnection(ok, text) {
    const c = $("connection");
    c.dataset.state = ok ? "ok" : "error";
    if (c.textContent !== text) c.textContent = text; // a live region: only changes are announced
  }

  // ---- charts (uPlot) ----------------------------------------------------------------------
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const PALETTE = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#8cd17d",
  ];
  const STATUS_COLORS = { "2xx": "#59a14f", "3xx": "#4e79a7", "4xx": "#f28e2b", "5xx": "#e15759" };
  const CHARTS = {
    busy: { unit: "slots", stacked: true, missing: 0 },
    queue: { unit: "sub-queries", stacked: true, missing: 0 },
    wait: { unit: "s", stacked: false, missing: null },
    requests: { unit: "req/s", stacked: true, missing: 0 },
    cache: { unit: "%", stacked: false, missing: null, max: 100 },
  };
  const SOURCES = ["busy", "actors", "slots", "held", "queue", "wait", "requests", "cache"];
  // generation: bumped when the breakdown changes, so that an answer to an older request is dropped.
  const history = { seq: -1, times: [], series: {}, tenant: "", generation: 0 };
  const plots = {};

  function resetHistory() {
    history.generation++;
    history.seq = -1;
    history.times = [];
    for (const name of SOURCES) history.series[name] = new Map();
  }
  resetHistory();

  function merge(h) {
    const n = h.times.length;
    if (!n) return;
    const old = history.times.length;
    const cap = Math.ceil(h.windowMs / h.intervalMs);
    for (const name of SOURCES) {
      const missing = name === "wait" || name === "cache" ? null : 0;
      const known = history.series[name];
      const fresh = new Set();
      for (const s of h.charts[name] || []) {
        fresh.add(s.key);
        let values = known.get(s.key);
        if (!values) known.set(s.key, (values = new Array(old).fill(missing)));
        values.push(...s.values);
      }
      for (const [key, values] of known) if (!fresh.has(key)) for (let i = 0; i < n; i++) values.push(missing);
    }
    history.times.push(...h.times);
    history.seq = h.seq;
    const drop = history.times.length - cap;
    if (drop > 0) {
      history.times.splice(0, drop);
      for (const name of SOURCES) for (const values of history.series[name].values()) values.splice(0, drop);
    }
    for (const name of SOURCES)
      for (const [key, values] of history.series[name])
        if (!values.some((v) => v !== null && v !== 0)) history.series[name].delete(key);
  }

  /** The chart's series, biggest first (by their sum over the window), "others" last. */
  function ordered(map) {
    const sum = (vs) => vs.reduce((n, v) => n + (v || 0), 0);
    return [...map].sort((a, b) => (a[0] === OTHERS) - (b[0] === OTHERS) || sum(b[1]) - sum(a[1]));
  }

  function chartData(id) {
    if (id === "busy") {
      const perTenant = history.tenant !== "";
      const series = ordered(history.series[perTenant ? "actors" : "busy"]);
      return { series, line: history.series.slots.get("capacity"), lineLabel: "querier slots (healthy)" };
    }
    if (id === "queue")
      return {
        series: ordered(history.series.queue),
        line: history.series.held.get("held back"),
        lineLabel: "held back in their queries",
      };
    return { series: ordered(history.series[id]) };
  }

  function colorOf(id, key, i) {
    if (id === "requests") return STATUS_COLORS[key] || PALETTE[i % PALETTE.length];
    if (key === OTHERS) return "#9aa0aa";
    if (id === "wait") return { p50: "#4e79a7", p99: "#e15759", "oldest waiting": "#edc948" }[key] || PALETTE[i];
    return PALETTE[i % PALETTE.length];
  }

  function drawChart(id) {
    const spec = CHARTS[id];
    const box = $("chart-" + id);
    const { series, line, lineLabel } = chartData(id);
    const times = history.times;
    // Stacked areas: each series is drawn as the sum of itself and those below it, topmost first,
    // so every filled band is one key's share; the legend shows the key's own value.
    const raw = series.map(([, v]) => v);
    let drawn = raw;
    if (spec.stacked) {
      const acc = new Array(times.length).fill(0);
      drawn = raw.map((vs) => vs.map((v, i) => (acc[i] += v || 0)));
      drawn = drawn.slice().reverse();
    }
    const keys = series.map(([k]) => k);
    const order = spec.stacked ? keys.slice().reverse() : keys;
    const rawOrder = spec.stacked ? raw.slice().reverse() : raw;
    const data = [times, ...drawn];
    if (line) data.push(line);
    let points = 0;
    for (const vs of raw) for (const v of vs) if (v !== null && v !== 0) points++;
    box.dataset.points = String(points);
    box.dataset.series = String(series.length);
    const signature = id + "|" + order.join("\u0001") + "|" + (line ? 1 : 0);
    $("chart-" + id + "-empty").hidden = points > 0;
    let plot = plots[id];
    if (plot && plot.signature !== signature) {
      plot.u.destroy();
      plot = undefined;
    }
    const width = Math.max(240, box.clientWidth);
    if (!plot) {
      const fg = color("--muted"), grid = color("--line");
      const s = [{}];
      order.forEach((key, i) => {
        const c = colorOf(id, key, keys.indexOf(key));
        const values = rawOrder[i];
        s.push({
          label: label(key),
          stroke: c,
          width: 1.5,
          fill: spec.stacked ? c + "cc" : undefined,
          spanGaps: false,
          // Sparse series (a wait or a hit ratio only when something happened) need dots to be seen.
          points: spec.stacked ? { show: false } : { show: true, size: 5 },
          value: (u, v, si, idx) => format(values[shown(idx, values)], spec.unit),
        });
      });
      if (line)
        s.push({
          label: lineLabel,
          stroke: fg,
          width: 1.5,
          dash: [6, 4],
          points: { show: false },
          value: (u, v, si, idx) => format(line[shown(idx, line)], spec.unit),
        });
      const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
      const opts = {
        width,
        height: 200,
        series: s,
        scales: {
          // At least a minute wide: a chart of a few seconds would label ticks in milliseconds.
          x: { time: true, range: (u, min, max) => [Math.min(min, max - 60), max] },
          y: { range: spec.max ? [0, spec.max] : (u, min, max) => [0, Math.max(max * 1.1, id === "wait" ? 0.01 : 1)] },
        },
        axes: [axis, Object.assign({ size: 56, values: (u, vals) => vals.map((v) => format(v, spec.unit)) }, axis)],
        legend: { live: true },
        cursor: { points: { show: false } },
      };
      plot = { u: new uPlot(opts, data, box), signature };
      plot.u.root.setAttribute("aria-hidden", "true");
      plots[id] = plot;
    } else {
      plot.u.setData(data);
      // The legend's values are read from these arrays: keep them current.
      if (plot.u.width !== width) plot.u.setSize({ width, height: 200 });
    }
    plot.raw = rawOrder;
  }

  /** The legend shows the point under the cursor, or the latest one when the cursor is elsewhere. */
  function shown(idx, values) {
    if (idx !== null && idx !== undefined) return idx;
    for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return i;
    return -1;
  }

  function format(v, unit) {
    if (v === null || v === undefined) return "\u2013";
    if (unit === "%") return v.toFixed(0) + " %";
    if (unit === "s") return v < 1 ? Math.round(v * 1000) + " ms" : v.toFixed(1) + " s";
    const r = Math.abs(v) >= 10 ? Math.round(v) : Math.round(v * 100) / 100;
    return number.format(r);
  }

  function drawCharts() {
    for (const id of Object.keys(CHARTS)) drawChart(id);
  }

  function updateTenantChoice() {
    const select = $("busy-tenant");
    const tenants = ordered(history.series.busy).map(([k]) => k).filter((k) => k !== OTHERS);
    if (history.tenant && !tenants.includes(history.tenant)) tenants.push(history.tenant);
    const have = [...select.options].slice(1).map((o) => o.value);
    if (have.join("\u0001") === tenants.join("\u0001")) return;
    const options = [new Option("all tenants, by tenant", "")];
    for (const t of tenants) {
      const o = document.createElement("option");
      o.value = t;
      o.textContent = t + ", by actor";
      options.push(o);
    }
    select.replaceChildren(...options);
    select.value = history.tenant;
  }

  // ---- tables ------------------------------------------------------------------------------
  function renderGlance(s) {
    const q = s.queue;
    $("glance-waiting").textContent = number.format(q.queued);
    $("glance-running").textContent = number.format(q.inflight);
    $("glance-held").textContent = number.format(q.held);
    $("glance-all").textContent = number.format(q.queued + q.held + q.inflight);
    const healthy = s.queriers.filter((x) => x.healthy);
    const slots = healthy.reduce((n, x) => n + x.maxConcurrent, 0);
    $("glance-slots").textContent = number.format(slots);
    $("glance-queriers").textContent = healthy.length + " of " + s.queriers.length;
    $("glance-queriers").dataset.state = healthy.length === s.queriers.length ? "ok" : "bad";
    $("max-parallelism").textContent = number.format(s.maxQueryParallelism);
    $("queue-summary").textContent =
      plural(q.queued, "sub-query", "sub-queries") + " waiting and " + number.format(q.inflight) + " running, from " +
      plural(q.tenants, "tenant", "tenants") + ".";
  }

  function renderTree(q) {
    const rows = q.rows.map((r) => {
      const tr = el("tr");
      tr.dataset.depth = String(r.depth);
      tr.style.setProperty("--depth", String(r.depth));
      tr.append(
        rowHead(r.depth === 0 ? r.tenant : r.path.join("|"), r.depth === 0 ? "" : "path", "node"),
        cell(r.queued, "queued"),
        cell(r.inflight, "inflight"),
        cell(duration(r.querierMs), "querier-time"),
        cell(duration(r.chargedMs) + (r.weight === 1 ? "" : " (weight " + r.weight + ")"), "charged"),
      );
      return tr;
    });
    $("queue-body").replaceChildren(...rows);
    show("queue-table-wrap", rows.length > 0);
    show("queue-empty", rows.length === 0);
    $("queue-truncated").textContent = q.omitted
      ? "The busiest " + rows.length + " rows are shown; " + plural(q.omitted, "more node", "more nodes") +
        " on /debug/queue."
      : "";
  }

  const useCells = (r) => [
    cell(r.queued, "queued"),
    cell(r.inflight, "inflight"),
    cell(duration(r.querierMs), "querier-time"),
    cell(r.ran, "ran"),
    cell(r.ran ? duration(r.meanWaitMs) : "\u2013", "mean-wait"),
    cell(r.ran ? duration(r.maxWaitMs) : "\u2013", "max-wait"),
    cell(r.inflight > 0 ? "running now" : ago(r.lastActive), "last-active"),
  ];

  function renderActors(a, windowMs) {
    const rows = a.rows.map((r) => {
      const tr = el("tr");
      const actor = r.actor === "" ? "(none)" : r.actor;
      tr.append(rowHead(r.tenant, "", "tenant"), cell(actor, "actor", "path"), ...useCells(r));
      return tr;
    });
    $("actors-body").replaceChildren(...rows);
    show("actors-table-wrap", rows.length > 0);
    show("actors-empty", rows.length === 0);
    $("actors-rest").textContent = a.rest
      ? "The " + rows.length + " that used the most querier time are shown; " +
        plural(a.rest, "other actor was", "other actors were") + " active too."
      : "";
    for (const e of document.querySelectorAll(".window")) e.textContent = duration(windowMs);
  }

  function renderTenants(t) {
    const rows = t.rows.map((r) => {
      const tr = el("tr");
      tr.append(rowHead(r.tenant, "", "tenant"), ...useCells(r));
      return tr;
    });
    $("tenants-body").replaceChildren(...rows);
    show("tenants-table-wrap", rows.length > 0);
    show("tenants-empty", rows.length === 0);
    $("tenants-rest").textContent = t.rest ? plural(t.rest, "more tenant was", "more tenants were") + " active." : "";
  }

  function renderQueriers(queriers) {
    const rows = queriers.map((q) => {
      const tr = el("tr");
      const health = el("td");
      health.append(el("span", q.healthy ? "healthy" : "unhealthy", q.healthy ? "badge ok" : "badge bad"));
      tr.append(
        rowHead(q.url, "path nowrap"),
        health,
        cell(q.inflight + " of " + q.maxConcurrent, "inflight"),
        cell(duration(q.querierMs), "querier-time"),
        cell(q.ran, "ran"),
        cell(q.failures, "failures"),
        el("td", q.lastError || "none", q.lastError ? "error" : ""),
      );
      return tr;
    });
    $("queriers-body").replaceChildren(...rows);
  }

  function renderCluster(c) {
    show("replicas", Boolean(c));
    if (!c) return;
    const named = (id) => (id === c.self ? id + " (this one)" : id);
    $("replicas-live").textContent = c.live.map((r) => named(r.id)).join(", ");
    const rows = c.tenants.map((t) => {
      const tr = el("tr");
      tr.append(rowHead(t.tenant, "", "tenant"), el("td", named(t.owner)));
      return tr;
    });
    $("replicas-body").replaceChildren(...rows);
  }

  function renderCache(cache) {
    const total = cache.hits + cache.partial + cache.misses;
    $("cache-ratio").textContent = total ? percent(cache.hits, total) : "no lookups yet";
    const outcomes = [
      ["Hits", cache.hits],
      ["Partial hits", cache.partial],
      ["Misses", cache.misses],
      ["All pieces", total],
    ];
    const rows = outcomes.map(([name, value]) => {
      const tr = el("tr");
      tr.append(rowHead(name), cell(value), cell(percent(value, total)));
      return tr;
    });
    $("cache-body").replaceChildren(...rows);
  }

  function renderAsync(a) {
    const states = a.states.map(([s, n]) => n + " " + s).join(", ");
    $("async-running").textContent = a.running ? plural(a.running, "query", "queries") + " (" + states + ")" : "none";
    const rows = a.jobs.map((j) => {
      const tr = el("tr");
      const p = j.progress;
      tr.append(
        rowHead(j.tenants.join(" | ")),
        el("td", j.actorPath, "path"),
        el("td", j.state),
        cell(p.splitsTotal ? p.splitsDone + " of " + p.splitsTotal : "not started"),
        cell(ago(j.submittedAt)),
      );
      return tr;
    });
    $("async-body").replaceChildren(...rows);
    show("async-table-wrap", rows.length > 0);
    show("async-empty", rows.length === 0);
  }

  function renderRates() {
    const last = (name, key) => {
      const v = history.series[name].get(key);
      return v && v.length ? v[v.length - 1] || 0 : 0;
    };
    // The last ten samples: one second is too jumpy to read.
    const recent = (name, key) => {
      const v = history.series[name].get(key) || [];
      const tail = v.slice(-10);
      return tail.length ? tail.reduce((n, x) => n + (x || 0), 0) / tail.length : 0;
    };
    const all = ["2xx", "3xx", "4xx", "5xx"].reduce((n, k) => n + recent("requests", k), 0);
    $("glance-rps").textContent = format(all, "req/s");
    $("glance-errors").textContent = format(recent("requests", "5xx"), "req/s");
    $("glance-errors").dataset.state = last("requests", "5xx") > 0 ? "bad" : "ok";
  }

  const get = async (url) => {
    const res = await fetch(url, {
      cache: "no-store",
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(url + " answered " + res.status);
    return res.json();
  };

  async function poll() {
    try {
      const breakdown = history.tenant ? "&tenant=" + encodeURIComponent(history.tenant) : "";
      const query = "debug/history?after=" + history.seq + breakdown;
      const generation = history.generation;
      const h = await get(query);
      serverNow = h.now;
      if (generation === history.generation) merge(h);
      $("uptime").textContent = uptime(h.now - Number(document.body.dataset.started));
      $("chart-window").textContent = duration(h.windowMs);
      $("chart-interval").textContent = duration(h.intervalMs);
      if (document.body.dataset.frontend === "true") {
        const s = await get("debug/status");
        renderGlance(s);
        renderTree(s.queue);
        renderActors(s.actors, s.windowMs);
        renderTenants(s.tenants);
        renderQueriers(s.queriers);
        renderCluster(s.cluster);
        renderCache(s.cache);
        renderAsync(s.async);
        updateTenantChoice();
        show("frontend", true);
        show("frontend-tables", true);
      }
      renderRates();
      drawCharts();
      setConnection(true, "Live, updated every second");
      $("updated").textContent = "Last update " + new Date().toLocaleTimeString();
    } catch (e) {
      setConnection(false, "Cannot reach this listener (" + (e && e.message ? e.message : String(e)) + "); retrying");
    }
    setTimeout(poll, POLL_MS);
  }

  $("busy-tenant").addEventListener("change", (ev) => {
    history.tenant = ev.target.value;
    resetHistory();
    for (const id of Object.keys(plots)) { plots[id].u.destroy(); delete plots[id]; }
    drawCharts(); // empty until the next poll brings this breakdown's history
  });
  window.addEventListener("resize", () => drawCharts());
  // For tests and the curious: what the charts show.
  window.statusHistory = history;
  if (document.body.dataset.frontend !== "true") {
    show("no-frontend", true);
    for (const id of ["busy", "queue", "wait", "cache"]) $("chart-" + id).closest("figure").hidden = true;
  }
  void poll();
})();
`;
