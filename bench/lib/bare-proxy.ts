// The floor for any proxy on Node: node:http in, an undici Pool out, no auth and no header work. Run as its own
// process: node --import tsx bench/lib/bare-proxy.ts PORT UPSTREAM_URL
import { createServer } from "node:http";
import { Pool } from "undici";

const [port, upstream] = [Number(process.argv[2]), process.argv[3]!];
const pool = new Pool(upstream);

createServer((req, res) => {
  pool.request({ path: req.url!, method: "GET", headers: { "x-forwarded-for": req.socket.remoteAddress! } }).then(
    (up) => {
      const { connection, "keep-alive": _, "transfer-encoding": __, ...headers } = up.headers;
      res.writeHead(up.statusCode, headers as Record<string, string>);
      up.body.pipe(res);
    },
    () => res.writeHead(502).end(),
  );
}).listen(port, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
