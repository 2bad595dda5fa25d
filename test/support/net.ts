import { connect } from "node:net";

/** Sends raw bytes over TCP (for requests fetch refuses to make) and returns the raw answer. */
export function rawHttp(url: string, request: string, timeoutMs = 5000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("utf8"));
    }, timeoutMs);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    socket.write(request);
  });
}

export const statusOf = (raw: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);

/**
 * A request written byte for byte (the path exactly as given, never normalised), answered as a Response
 * (status and headers; the body as the bytes after the header block, unchunked only).
 */
export async function rawRequest(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
): Promise<Response> {
  const u = new URL(url.replace(/^(http:\/\/[^/]+).*$/, "$1"));
  const path = url.slice(u.origin.length);
  const lines = [`${init.method} ${path} HTTP/1.1`, `Host: ${u.host}`, "Connection: close"];
  for (const [k, v] of Object.entries(init.headers)) lines.push(`${k}: ${v}`);
  if (init.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(init.body)}`);
  const answer = await rawHttp(url, `${lines.join("\r\n")}\r\n\r\n${init.body ?? ""}`);
  const end = answer.indexOf("\r\n\r\n");
  const head = answer.slice(0, end < 0 ? answer.length : end).split("\r\n");
  const headers = new Headers();
  for (const line of head.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const body = end < 0 || headers.get("transfer-encoding") === "chunked" ? "" : answer.slice(end + 4);
  return new Response(body, { status: statusOf(answer) || 599, headers });
}
