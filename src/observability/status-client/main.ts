// The status page's client (GET /status on the admin listener): polls /debug/history and, with a
// frontend, /debug/status every second, and draws the charts and tables. Built into one script by
// status-script.ts; the page's Content-Security-Policy allows exactly that script.

import type { RuntimeConfigStatus } from "../../node/runtime-config.js";
import type { StatusData } from "../frontend-admin.js";
import type { HistoryData } from "../status-history.js";
import { CHART_IDS } from "./charts.js";
import { byId, show, text } from "./dom.js";
import { chartValue, duration, OTHERS, uptime } from "./format.js";
import { destroyCharts, drawCharts } from "./plot.js";
import { ordered, Samples } from "./samples.js";
import {
  renderActors,
  renderAsync,
  renderCache,
  renderGlance,
  renderQueriers,
  renderQueue,
  renderReplicas,
  renderTenants,
} from "./tables.js";

declare global {
  interface Window {
    /** For tests and the curious: what the charts show. */
    statusHistory?: Samples;
  }
}

/** What GET /debug/history answers: the samples, and the runtime file's state (run.ts adds it). */
type HistoryAnswer = HistoryData & { runtimeConfig: RuntimeConfigStatus | null };

const POLL_MS = 1000;
const samples = new Samples();
const frontend = document.body.dataset.frontend === "true";
const startedAt = Number(document.body.dataset.started);

function setConnection(ok: boolean, message: string): void {
  const c = byId("connection");
  c.dataset.state = ok ? "ok" : "error";
  if (c.textContent !== message) c.textContent = message; // a live region: only changes are announced
}

async function get<T>(url: string): Promise<T> {
  const res = await fetch(url, {
    cache: "no-store",
    headers: { accept: "application/json" },
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return (await res.json()) as T;
}

/** The busy chart's menu: all tenants, or one tenant's actors (the busiest tenants, and the one chosen). */
function updateTenantChoice(): void {
  const select = byId<HTMLSelectElement>("busy-tenant");
  const tenants = ordered(samples.series.busy)
    .map(([k]) => k)
    .filter((k) => k !== OTHERS);
  if (samples.tenant && !tenants.includes(samples.tenant)) tenants.push(samples.tenant);
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join("\u0001") === tenants.join("\u0001")) return;
  const options = [new Option("all tenants, by tenant", "")];
  for (const t of tenants) {
    const o = document.createElement("option");
    o.value = t;
    o.textContent = `${t}, by actor`;
    options.push(o);
  }
  select.replaceChildren(...options);
  select.value = samples.tenant;
}

/** Under the title: whether the runtime file (runtime_config) is in force, or why its last reload was refused. */
function renderRuntimeConfig(r: RuntimeConfigStatus | null): void {
  show("runtime-config", Boolean(r));
  if (!r) return;
  const c = byId("runtime-config");
  const at = new Date(r.loadedAt).toLocaleTimeString();
  c.dataset.state = r.lastReloadSuccessful ? "ok" : "error";
  c.textContent = r.lastReloadSuccessful
    ? `Runtime config ${r.file} in force since ${at}.`
    : `Runtime config ${r.file} refused: ${r.error}. The one loaded at ${at} stays in force.`;
}

/** Requests and server errors per second over the last samples. */
function renderRates(): void {
  const all = ["2xx", "3xx", "4xx", "5xx"].reduce((n, k) => n + samples.recent("requests", k), 0);
  text("glance-rps", chartValue(all, "req/s"));
  text("glance-errors", chartValue(samples.recent("requests", "5xx"), "req/s"));
  byId("glance-errors").dataset.state = samples.last("requests", "5xx") > 0 ? "bad" : "ok";
}

function renderStatus(s: StatusData, now: number): void {
  renderGlance(s);
  renderQueue(s.queue);
  renderActors(s.actors, s.windowMs, now);
  renderTenants(s.tenants, now);
  renderQueriers(s.queriers);
  renderReplicas(s.cluster);
  renderCache(s.cache);
  renderAsync(s.async, now);
  updateTenantChoice();
  show("frontend", true);
  show("frontend-tables", true);
}

async function poll(): Promise<void> {
  try {
    const breakdown = samples.tenant ? `&tenant=${encodeURIComponent(samples.tenant)}` : "";
    const generation = samples.generation;
    const h = await get<HistoryAnswer>(`debug/history?after=${samples.seq}${breakdown}`);
    if (generation === samples.generation) samples.merge(h);
    text("uptime", uptime(h.now - startedAt));
    text("chart-window", duration(h.windowMs));
    text("chart-interval", duration(h.intervalMs));
    renderRuntimeConfig(h.runtimeConfig);
    if (frontend) renderStatus(await get<StatusData>("debug/status"), h.now);
    renderRates();
    drawCharts(samples);
    setConnection(true, "Live, updated every second");
    text("updated", `Last update ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    setConnection(false, `Cannot reach this listener (${e instanceof Error ? e.message : String(e)}); retrying`);
  }
  setTimeout(poll, POLL_MS);
}

byId<HTMLSelectElement>("busy-tenant").addEventListener("change", (ev) => {
  samples.tenant = (ev.target as HTMLSelectElement).value;
  samples.reset();
  destroyCharts();
  drawCharts(samples); // empty until the next poll brings this breakdown's history
});
window.addEventListener("resize", () => drawCharts(samples));
window.statusHistory = samples;
if (!frontend) {
  show("no-frontend", true);
  for (const id of CHART_IDS.filter((c) => c !== "requests")) {
    const figure = byId(`chart-${id}`).closest("figure");
    if (figure) figure.hidden = true;
  }
}
void poll();
