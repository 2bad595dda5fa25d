import type { StatusData } from "../frontend-admin.js";
import { byId, cell, el, row, rowHead, show, text } from "./dom.js";
import { actorPath, ago, count, duration, NONE, percent, plural } from "./format.js";

// The tables under the charts, each from its part of GET /debug/status. Rows are rebuilt on every
// poll: the server bounds every table, so this stays cheap.

type Queue = StatusData["queue"];
type Use = StatusData["tenants"]["rows"][number];

/** Puts rows in a table's body (#name-body); shows the table, or its "empty" line when there are none. */
function fillTable(name: string, rows: HTMLElement[]): void {
  byId(`${name}-body`).replaceChildren(...rows);
  show(`${name}-table-wrap`, rows.length > 0);
  show(`${name}-empty`, rows.length === 0);
}

/** "Right now": the counts at a glance. */
export function renderGlance(s: StatusData): void {
  const q = s.queue;
  text("glance-waiting", count(q.queued));
  text("glance-running", count(q.inflight));
  text("glance-held", count(q.held));
  text("glance-all", count(q.queued + q.held + q.inflight));
  const healthy = s.queriers.filter((x) => x.healthy);
  text("glance-slots", count(healthy.reduce((n, x) => n + x.maxConcurrent, 0)));
  text("glance-queriers", `${healthy.length} of ${s.queriers.length}`);
  byId("glance-queriers").dataset.state = healthy.length === s.queriers.length ? "ok" : "bad";
  text("max-parallelism", count(s.maxQueryParallelism));
  text(
    "queue-summary",
    `${plural(q.queued, "sub-query", "sub-queries")} waiting and ${count(q.inflight)} running, from ` +
      `${plural(q.tenants, "tenant", "tenants")}.`,
  );
}

/** The queue's tree: tenants, then the actor paths below them. */
export function renderQueue(q: Queue): void {
  const rows = q.rows.map((r) => {
    const tr = row(
      rowHead(r.depth === 0 ? r.tenant : actorPath(r.path.join("|")), r.depth === 0 ? "" : "path", "node"),
      cell(r.queued, "queued"),
      cell(r.inflight, "inflight"),
      cell(duration(r.querierMs), "querier-time"),
      cell(duration(r.chargedMs) + (r.weight === 1 ? "" : ` (weight ${r.weight})`), "charged"),
    );
    tr.dataset.depth = String(r.depth);
    tr.style.setProperty("--depth", String(r.depth));
    return tr;
  });
  fillTable("queue", rows);
  text(
    "queue-truncated",
    q.omitted
      ? `The busiest ${rows.length} rows are shown; ${plural(q.omitted, "more node", "more nodes")} on /debug/queue.`
      : "",
  );
}

/** The cells of a tenant's or an actor's recent use, the same in both tables. */
const useCells = (r: Use, now: number) => [
  cell(r.queued, "queued"),
  cell(r.inflight, "inflight"),
  cell(duration(r.querierMs), "querier-time"),
  cell(r.ran, "ran"),
  cell(r.ran ? duration(r.meanWaitMs) : NONE, "mean-wait"),
  cell(r.ran ? duration(r.maxWaitMs) : NONE, "max-wait"),
  cell(r.inflight > 0 ? "running now" : ago(r.lastActive, now), "last-active"),
];

/** Recently active actors; `now` is the server's clock. */
export function renderActors(a: StatusData["actors"], windowMs: number, now: number): void {
  const rows = a.rows.map((r) => {
    const path = r.actor === "" ? "(none)" : actorPath(r.actor);
    // With the actor directory on (admin listener only): who the hash stands for.
    const actor = r.name ? `${path} \u2014 ${r.name.id}${r.name.claim ? ` (${r.name.claim})` : ""}` : path;
    return row(rowHead(r.tenant, "", "tenant"), cell(actor, "actor", "path"), ...useCells(r, now));
  });
  fillTable("actors", rows);
  text(
    "actors-rest",
    a.rest
      ? `The ${rows.length} that used the most querier time are shown; ` +
          `${plural(a.rest, "other actor was", "other actors were")} active too.`
      : "",
  );
  for (const e of document.querySelectorAll(".window")) e.textContent = duration(windowMs);
}

/** Recently active tenants. */
export function renderTenants(t: StatusData["tenants"], now: number): void {
  const rows = t.rows.map((r) => row(rowHead(r.tenant, "", "tenant"), ...useCells(r, now)));
  fillTable("tenants", rows);
  text("tenants-rest", t.rest ? `${plural(t.rest, "more tenant was", "more tenants were")} active.` : "");
}

export function renderQueriers(queriers: StatusData["queriers"]): void {
  const rows = queriers.map((q) => {
    const health = el("td");
    health.append(el("span", q.healthy ? "healthy" : "unhealthy", q.healthy ? "badge ok" : "badge bad"));
    return row(
      rowHead(q.url, "path nowrap"),
      health,
      cell(`${q.inflight} of ${q.maxConcurrent}`, "inflight"),
      cell(duration(q.querierMs), "querier-time"),
      cell(q.ran, "ran"),
      cell(q.failures, "failures"),
      el("td", q.lastError || "none", q.lastError ? "error" : ""),
    );
  });
  byId("queriers-body").replaceChildren(...rows);
}

/** With several replicas: the live ones, and which one owns each tenant's queue. */
export function renderReplicas(c: StatusData["cluster"]): void {
  show("replicas", Boolean(c));
  if (!c) return;
  const named = (id: string) => (id === c.self ? `${id} (this one)` : id);
  text("replicas-live", c.live.map((r) => named(r.id)).join(", "));
  byId("replicas-body").replaceChildren(
    ...c.tenants.map((t) => row(rowHead(t.tenant, "", "tenant"), el("td", named(t.owner)))),
  );
}

export function renderCache(cache: StatusData["cache"]): void {
  const total = cache.hits + cache.partial + cache.misses;
  text("cache-ratio", total ? percent(cache.hits, total) : "no lookups yet");
  const outcomes: [string, number][] = [
    ["Hits", cache.hits],
    ["Partial hits", cache.partial],
    ["Misses", cache.misses],
    ["All pieces", total],
  ];
  byId("cache-body").replaceChildren(
    ...outcomes.map(([name, value]) => row(rowHead(name), cell(value), cell(percent(value, total)))),
  );
}

/** Asynchronous queries this replica runs; `now` is the server's clock. */
export function renderAsync(a: StatusData["async"], now: number): void {
  const states = a.states.map(([s, n]) => `${n} ${s}`).join(", ");
  text("async-running", a.running ? `${plural(a.running, "query", "queries")} (${states})` : "none");
  const rows = a.jobs.map((j) => {
    const p = j.progress;
    return row(
      rowHead(j.tenants.join(" | ")),
      el("td", actorPath(j.actorPath), "path"),
      el("td", j.state),
      cell(p.splitsTotal ? `${p.splitsDone} of ${p.splitsTotal}` : "not started"),
      cell(ago(j.submittedAt, now)),
    );
  });
  fillTable("async", rows);
}
