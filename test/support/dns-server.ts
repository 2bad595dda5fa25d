import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";

/** The records a name has; the test changes them between lookups. */
export interface DnsRecords {
  a?: string[];
  aaaa?: string[];
  srv?: { target: string; port: number; priority?: number; weight?: number }[];
}

/** A DNS server on a loopback UDP port whose answers the test sets. */
export interface TestDnsServer {
  /** "127.0.0.1:PORT", as a resolver address. */
  address: string;
  /** Name (no trailing dot, any case) → its records. A name not here is NXDOMAIN. */
  zone: Map<string, DnsRecords>;
  /** Questions answered so far (type and name), to show a lookup did reach this server. */
  asked: { type: string; name: string }[];
  close(): Promise<void>;
}

const TYPES: Record<number, keyof DnsRecords> = { 1: "a", 28: "aaaa", 33: "srv" };
const TTL = 1;

/**
 * Real DNS wire format (RFC 1035; AAAA RFC 3596; SRV RFC 2782) over UDP, answering A, AAAA and SRV questions from
 * `zone`: authoritative NOERROR with the records, NOERROR with none (no data) for a known name without that type,
 * NXDOMAIN for an unknown name. Enough for node's resolver (c-ares), which is what fairgate asks.
 */
export async function startDnsServer(zone: Map<string, DnsRecords> = new Map()): Promise<TestDnsServer> {
  const socket = createSocket("udp4");
  const asked: TestDnsServer["asked"] = [];
  socket.on("message", (query, from) => {
    const answer = respond(query, zone, asked);
    if (answer) socket.send(answer, from.port, from.address);
  });
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  const { port } = socket.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    zone,
    asked,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

function respond(query: Buffer, zone: Map<string, DnsRecords>, asked: TestDnsServer["asked"]): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined; // one question, as resolvers send
  const { name, end } = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const kind = TYPES[qtype];
  asked.push({ type: kind ?? String(qtype), name });
  const records = zone.get(name.toLowerCase());
  const answers = records && kind ? rdatas(kind, records) : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  // QR, AA, RD copied, RA; rcode 3 (NXDOMAIN) for an unknown name.
  header.writeUInt16BE(0x8000 | 0x0400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (records ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const rrs = answers.map((rdata) => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(TTL, 6);
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  return Buffer.concat([header, question, ...rrs]);
}

function rdatas(kind: keyof DnsRecords, r: DnsRecords): Buffer[] {
  if (kind === "a") return (r.a ?? []).map((ip) => Buffer.from(ip.split(".").map(Number)));
  if (kind === "aaaa") return (r.aaaa ?? []).map(ipv6Bytes);
  return (r.srv ?? []).map((s) => {
    const fixed = Buffer.alloc(6);
    fixed.writeUInt16BE(s.priority ?? 10, 0);
    fixed.writeUInt16BE(s.weight ?? 10, 2);
    fixed.writeUInt16BE(s.port, 4);
    return Buffer.concat([fixed, writeName(s.target)]);
  });
}

function readName(buf: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  for (let len = buf[at]!; len !== 0; len = buf[at]!) {
    labels.push(buf.toString("latin1", at + 1, at + 1 + len));
    at += 1 + len;
  }
  return { name: labels.join("."), end: at + 1 };
}

const writeName = (name: string) =>
  Buffer.concat([
    ...name
      .replace(/\.$/, "")
      .split(".")
      .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "latin1")])),
    Buffer.from([0]),
  ]);

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), 2 * i);
  return out;
}
