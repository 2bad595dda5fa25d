// The page's elements. Every untrusted value (tenant, actor path, querier error) goes in as text
// (textContent) or as a property, never as HTML.

import { count } from "./format.js";

/** The page's element with this id (the HTML comes from status-page.ts: a missing one is a bug there). */
export function byId<E extends HTMLElement = HTMLElement>(id: string): E {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the status page has no #${id}`);
  return e as E;
}

export function el(tag: string, text?: string | number | null, cls?: string): HTMLElement {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

/** A table cell; numbers are written with separators. `col` names it for readers and tests (data-col). */
export function cell(value: string | number, col?: string, cls = "num"): HTMLElement {
  const td = el("td", typeof value === "number" ? count(value) : value, cls);
  if (col) td.dataset.col = col;
  return td;
}

/** A row's heading cell. */
export function rowHead(text: string, cls?: string, col?: string): HTMLElement {
  const th = el("th", text, cls) as HTMLTableCellElement;
  th.scope = "row";
  if (col) th.dataset.col = col;
  return th;
}

/** A table row of these cells. */
export function row(...cells: HTMLElement[]): HTMLElement {
  const tr = el("tr");
  tr.append(...cells);
  return tr;
}

export const show = (id: string, visible: boolean): void => void (byId(id).hidden = !visible);

/** Sets an element's text. */
export const text = (id: string, value: string): void => void (byId(id).textContent = value);
