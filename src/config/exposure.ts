/**
 * Where a listener can be reached from, judged from its `host:port` alone (no DNS): the demo issuer hands
 * tokens to anybody and the admin listener serves every tenant's actors and queue to anybody, so neither
 * may listen where the public can reach it by accident.
 */
export type Reach = "loopback" | "private" | "public";

const ipv4 = (host: string): number[] | undefined => {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
};

/** `listen` is "host:port" (the schema has checked it); an empty host or 0.0.0.0 means every interface. */
export function reachOf(listen: string): Reach {
  const host = listen.slice(0, listen.lastIndexOf(":")).toLowerCase();
  if (host === "localhost") return "loopback";
  const ip = ipv4(host);
  if (!ip) return "public"; // every interface (""), or a hostname: it may resolve to anything
  const [a, b] = ip as [number, number];
  if (a === 127) return "loopback";
  // RFC 1918, link-local, and the shared address space carriers and Kubernetes pod networks use.
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
  if ((a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127)) return "private";
  return "public";
}

type Server = { listen: string; admin_listen?: string | undefined; admin_public: boolean };

/** The combinations check-config and start-up refuse, each with what to do instead. */
export function exposureProblems(server: Server, demo: boolean): string[] {
  const problems: string[] = [];
  if (demo && reachOf(server.listen) !== "loopback")
    problems.push(
      `demo.enabled: the demo issuer hands out tokens to anybody, so it may only listen on loopback ` +
        `(server.listen is ${server.listen}); use 127.0.0.1, or set demo.enabled: false and configure edge.issuers`,
    );
  const admin = server.admin_listen;
  if (admin && reachOf(admin) === "public" && !server.admin_public)
    problems.push(
      `server.admin_listen: ${admin} may be reachable from the public network, and the admin listener ` +
        `(/status, /metrics, /debug) has no authentication; listen on loopback or a private address ` +
        `(127.0.0.1, 10.x, 172.16-31.x, 192.168.x), or set server.admin_public: true when a firewall or ` +
        `network policy keeps it private`,
    );
  return problems;
}
