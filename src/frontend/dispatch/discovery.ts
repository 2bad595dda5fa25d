import { Resolver } from "node:dns/promises";
import { type QuerierAddress, querierUrl } from "../../config/querier-address.js";

type DnsAddress = Extract<QuerierAddress, { kind: "dns" }>;

export interface LookupOptions {
  /** DNS servers asked, in order ("IP", "IP:PORT", "[IPv6]:PORT"); empty: the system's. */
  resolvers: readonly string[];
  /** For one whole lookup (every resolver tried, SRV targets included). */
  timeoutMs: number;
}

/** The name has no such records (NXDOMAIN or no data): an answer, not a failure to get one. */
const NO_RECORDS = new Set(["ENOTFOUND", "ENODATA"]);

const why = (e: unknown) => {
  const { code, message } = e as NodeJS.ErrnoException;
  return code && !message.includes(code) ? `${code}: ${message}` : message;
};

/**
 * The querier URLs behind one `dns+`/`dnssrv+`/`dnssrvnoa+` entry, sorted. Throws when the lookup fails (a resolver
 * times out, refuses, answers SERVFAIL) and when it finds nothing: the caller keeps the last good set either way, as
 * a headless service momentarily without endpoints, or a resolver that lies for a moment, must not empty the pool.
 */
export async function lookupQueriers(a: DnsAddress, opts: LookupOptions): Promise<string[]> {
  // A resolver per lookup: cancel() on the deadline stops only this lookup's queries. c-ares asks the servers in
  // order, moving on when one refuses or times out; the whole lookup is bounded by timeoutMs.
  const resolver = new Resolver({ timeout: Math.max(50, Math.floor(opts.timeoutMs / 4)), tries: 2 });
  if (opts.resolvers.length > 0) resolver.setServers([...opts.resolvers]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      resolver.cancel();
      reject(new Error(`no answer within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
  });
  try {
    const urls = await Promise.race([find(resolver, a), deadline]);
    if (urls.length === 0) throw new Error(`${a.name} has no ${a.lookup === "a" ? "A or AAAA" : "SRV"} records`);
    return [...new Set(urls)].sort();
  } finally {
    clearTimeout(timer);
  }
}

async function find(resolver: Resolver, a: DnsAddress): Promise<string[]> {
  if (a.lookup === "a") return (await addresses(resolver, a.name)).map((ip) => querierUrl(a, ip, a.port!));
  let records: { name: string; port: number }[];
  try {
    records = await resolver.resolveSrv(a.name);
  } catch (e) {
    if (NO_RECORDS.has((e as NodeJS.ErrnoException).code ?? "")) return [];
    throw new Error(`SRV lookup of ${a.name}: ${why(e)}`);
  }
  if (a.lookup === "srvnoa") return records.map((r) => querierUrl(a, r.name, r.port));
  const found = await Promise.all(
    records.map(async (r) => (await addresses(resolver, r.name)).map((ip) => querierUrl(a, ip, r.port))),
  );
  return found.flat();
}

/** A and AAAA records of `name`; one kind missing is fine, a failure of both (not "none") throws. */
async function addresses(resolver: Resolver, name: string): Promise<string[]> {
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  const found = [v4, v6].flatMap((r) => (r.status === "fulfilled" ? r.value : []));
  if (found.length > 0) return found;
  for (const r of [v4, v6])
    if (r.status === "rejected" && !NO_RECORDS.has((r.reason as NodeJS.ErrnoException).code ?? ""))
      throw new Error(`A/AAAA lookup of ${name}: ${why(r.reason)}`);
  return [];
}
