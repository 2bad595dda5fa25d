/* The status page's style: light and dark, readable tables, charts in a grid. */
export const STATUS_STYLE = `
:root {
  color-scheme: light dark;
  --fg: #1d2330;
  --muted: #5b6475;
  --bg: #f7f8fa;
  --panel: #fff;
  --line: #d9dde5;
  --ok: #1a7f37;
  --bad: #b42318;
  --accent: #2f5bd3;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e6e9ef;
    --muted: #a3abba;
    --bg: #111318;
    --panel: #1a1d24;
    --line: #2d323c;
    --ok: #4ac26b;
    --bad: #ff7b72;
    --accent: #7aa2ff;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg);
  background: var(--bg);
}
header {
  display: flex;
  flex-wrap: wrap;
  align-items: baseline;
  gap: .25rem 1.5rem;
  padding: 1rem 1.5rem;
  border-bottom: 1px solid var(--line);
  background: var(--panel);
}
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 0 0 .6rem; }
header p { margin: 0; color: var(--muted); }
#connection[data-state="ok"]::before { content: "\\25CF  "; color: var(--ok); }
#connection[data-state="error"], #runtime-config[data-state="error"] { color: var(--bad); font-weight: 600; }
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
thead th {
  font-size: .8rem;
  text-transform: uppercase;
  letter-spacing: .03em;
  color: var(--muted);
  font-weight: 600;
}
td.num, th.num { text-align: end; white-space: nowrap; }
tbody th { font-weight: 400; overflow-wrap: anywhere; }
.nowrap, tbody th.nowrap { white-space: nowrap; overflow-wrap: normal; }
header nav { margin-inline-start: auto; font-size: .9rem; }
header nav a { margin-inline-start: .8rem; }
a { color: var(--accent); }
tr[data-depth="0"] th { font-weight: 700; }
tr[data-depth] th { padding-inline-start: calc(.6rem + var(--depth, 0) * 1.4rem); }
.path { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .85em; }
.badge {
  display: inline-block;
  padding: 0 .5rem;
  border-radius: 999px;
  font-size: .8rem;
  font-weight: 600;
  border: 1px solid currentColor;
}
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
figcaption {
  font-weight: 600;
  margin-bottom: .2rem;
  display: flex;
  gap: .5rem;
  align-items: baseline;
  flex-wrap: wrap;
}
figcaption span { font-weight: 400; color: var(--muted); font-size: .85rem; }
.chart { min-height: 200px; position: relative; }
.chart .empty { position: absolute; top: 40%; width: 100%; text-align: center; }
.u-legend { font-size: .8rem; text-align: start; }
.u-legend .u-label { overflow-wrap: anywhere; }
th[data-col="tenant"] { min-width: 9rem; }
td.path { overflow-wrap: anywhere; min-width: 12rem; }
select { font: inherit; font-size: .85rem; max-width: 16rem; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .85em; }
[hidden], #frontend[hidden], #frontend-tables[hidden] { display: none; }
`;
