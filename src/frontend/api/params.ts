import { ApiError } from "../../http/errors.js";
import { isForm } from "../../http/media-type.js";
import type { Params } from "../types.js";

/** The read body limit when none is configured (routes.read.max_body_bytes). */
const MAX_BODY_BYTES = 1 << 20;

/** Query string and, for POST, a form body: Prometheus reads both (Grafana POSTs forms by default). */
export async function readParams(req: Request, maxBodyBytes = MAX_BODY_BYTES): Promise<Params> {
  const url = new URL(req.url);
  const params: Params = {};
  const add = (k: string, v: string) => {
    const have = params[k];
    params[k] = have === undefined ? v : Array.isArray(have) ? [...have, v] : [have, v];
  };
  // A form body comes first: Go's FormValue, which Prometheus uses, prefers it to the URL.
  if (req.method === "POST" && isForm(req.headers.get("content-type"))) {
    const declared = Number(req.headers.get("content-length") ?? 0);
    if (declared > maxBodyBytes) throw new ApiError("too_large", `form body over ${maxBodyBytes} bytes`);
    const text = await req.text();
    if (text.length > maxBodyBytes) throw new ApiError("too_large", `form body over ${maxBodyBytes} bytes`);
    for (const [k, v] of new URLSearchParams(text)) add(k, v);
  }
  for (const [k, v] of url.searchParams) add(k, v);
  return params;
}

export function one(params: Params, name: string): string | undefined {
  const v = params[name];
  return Array.isArray(v) ? v[0] : v;
}

export function required(params: Params, name: string): string {
  const v = one(params, name);
  if (v === undefined || v === "") throw new ApiError("bad_data", `invalid parameter "${name}": missing`);
  return v;
}

export function parsed<T>(
  params: Params,
  name: string,
  parse: (s: string) => T | undefined,
  what: string,
  fallback?: () => T,
): T {
  const raw = one(params, name);
  if (raw === undefined || raw === "") {
    if (fallback) return fallback();
    throw new ApiError("bad_data", `invalid parameter "${name}": missing`);
  }
  const v = parse(raw);
  if (v === undefined)
    throw new ApiError(
      "bad_data",
      `invalid parameter "${name}": cannot parse ${JSON.stringify(raw.slice(0, 64))} to a valid ${what}`,
    );
  return v;
}

/** The params minus the ones a (sub-)request sets itself. */
export function without(params: Params, ...names: string[]): Params {
  return Object.fromEntries(Object.entries(params).filter(([k]) => !names.includes(k)));
}

export function toSearchParams(params: Params): URLSearchParams {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) out.append(k, one);
  return out;
}
