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
 * A request written byte for byte (the path exactly as given, never normalised), answered as a Response. It resolves
 * once the answer's Content-Length is in (some servers keep the socket open despite Connection: close); a chunked
 * answer's body is left out.
 */
export function rawRequest(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
): Promise<Response> {
  const { host, hostname, port, origin } = new URL(url);
  const lines = [`${init.method} ${url.slice(origin.length)} HTTP/1.1`, `Host: ${host}`, "Connection: close"];
  for (const [k, v] of Object.entries(init.headers)) lines.push(`${k}: ${v}`);
  if (init.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(init.body)}`);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = Buffer.alloc(0);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = answer.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      const headers = new Headers();
      for (const line of text
        .slice(0, end < 0 ? text.length : end)
        .split("\r\n")
        .slice(1)) {
        const i = line.indexOf(":");
        if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
      }
      const body = end < 0 || headers.get("transfer-encoding") === "chunked" ? "" : answer.subarray(end + 4);
      resolve(new Response(body, { status: statusOf(text) || 599, headers }));
    };
    const timer = setTimeout(finish, 5000);
    socket.on("data", (c: Buffer) => {
      answer = Buffer.concat([answer, c]);
      const text = answer.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      if (end >= 0 && length && answer.length - end - 4 >= Number(length[1])) finish();
    });
    socket.on("close", finish);
    socket.on("error", (e) => (answer.length ? finish() : reject(e)));
    socket.write(`${lines.join("\r\n")}\r\n\r\n${init.body ?? ""}`);
  });
}

/**
 * Sends a request head, then `body.bytes` of body (chunked, or under the Content-Length the head declares), without
 * finishing a chunked body unless `body.finish`, and resolves with the answer's status as soon as one arrives (0 if
 * the connection closes without one) and how many body bytes had been written by then.
 */
export function unfinishedRequest(
  url: string,
  head: string,
  body: { bytes: number; chunked: boolean; finish?: boolean },
  timeoutMs = 10_000,
): Promise<{ status: number; sent: number; answer: string }> {
  const { hostname, port } = new URL(url);
  const chunk = Buffer.alloc(8192, "a");
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = "";
    let sent = 0;
    const done = (status: number) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ status, sent, answer });
    };
    const timer = setTimeout(() => done(0), timeoutMs);
    socket.on("data", (c: Buffer) => {
      answer += c.toString("latin1");
      if (answer.includes("\r\n\r\n")) setTimeout(() => done(statusOf(answer)), 50);
    });
    socket.on("close", () => done(statusOf(answer)));
    socket.on("error", (e) => (answer ? done(statusOf(answer)) : reject(e)));
    const pump = () => {
      while (sent < body.bytes && !socket.destroyed) {
        const piece = body.chunked
          ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")])
          : chunk;
        sent += chunk.length;
        if (!socket.write(piece)) return void socket.once("drain", pump);
      }
      if (body.finish && body.chunked && !socket.destroyed) socket.write("0\r\n\r\n");
    };
    socket.write(head, pump);
  });
}
