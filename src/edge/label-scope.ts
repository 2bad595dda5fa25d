// A read request restricted to the user's label policies before it goes anywhere: the URL's
// parameters and a form body are rewritten together (the upstreams read both), and the request
// that is sent on carries only the rewritten ones. The frontend therefore splits, caches and queues
// the rewritten query: users with different policies never share a cache entry.
import { ApiError } from "../http/errors.js";
import { FORM, isForm } from "../http/media-type.js";
import { limitBody } from "../http/request-limits.js";
import type { LabelPolicy } from "../policy/policy.js";
import { scopeRead } from "../policy/scope.js";
import type { EdgeRequest } from "./request.js";

export interface ScopedRead {
  /** The new query string, with its "?" (or empty). */
  search: string;
  /** The new form body, when the request had one. */
  body?: string;
}

export async function scopeReadRequest(
  req: EdgeRequest,
  path: string,
  policies: readonly LabelPolicy[],
  maxBodyBytes: number,
): Promise<ScopedRead> {
  const query = new URL(req.url).searchParams;
  const sources = [query];
  let form: URLSearchParams | undefined;
  let text: string | undefined;
  if (req.body && req.method !== "GET") {
    text = await new Response(limitBody(req.body, maxBodyBytes, "read requests").body).text();
    if (text !== "") {
      // Prometheus also reads multipart forms, and an encoded body is not text: neither could be checked.
      const encoding = (req.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
      if (!isForm(req.headers.get("content-type")) || encoding !== "identity")
        throw new ApiError(
          "bad_data",
          `under a label policy a request body must be an unencoded ${FORM} form; ` +
            "send the parameters in the URL or as such a form",
        );
      form = new URLSearchParams(text);
      sources.push(form);
    }
  }
  scopeRead(path, sources, policies);
  const search = query.toString();
  // A body that was read is sent as rewritten, even when it was empty: the client's stream is spent.
  return { search: search ? `?${search}` : "", body: form?.toString() ?? text };
}
