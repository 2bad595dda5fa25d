/**
 * Prometheus remote write 1.0 bodies, written by hand: a protobuf `WriteRequest` framed as a snappy block. Mimir's
 * distributor takes them at POST /api/v1/push. Small enough to need no protobuf or snappy package.
 */

export interface Series {
  /** Labels, `__name__` included. */
  labels: Record<string, string>;
  /** [milliseconds since the epoch, value], oldest first. */
  samples: [number, number][];
}

/** A protobuf varint of a non-negative integer below 2^53. */
function varint(n: number, out: number[]): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

/** A length-delimited field (wire type 2): tag, length, bytes. */
function field(num: number, bytes: Uint8Array | number[], out: number[]): void {
  varint((num << 3) | 2, out);
  varint(bytes.length, out);
  for (const b of bytes) out.push(b);
}

const utf8 = (s: string) => new TextEncoder().encode(s);

function encodeSeries(s: Series): number[] {
  const out: number[] = [];
  // Label {name = 1, value = 2}; remote write wants them sorted by name.
  for (const name of Object.keys(s.labels).sort()) {
    const label: number[] = [];
    field(1, utf8(name), label);
    field(2, utf8(s.labels[name]!), label);
    field(1, label, out);
  }
  // Sample {value = 1 (double, wire type 1), timestamp = 2 (int64 varint)}.
  const double = new DataView(new ArrayBuffer(8));
  for (const [ms, value] of s.samples) {
    const sample: number[] = [(1 << 3) | 1];
    double.setFloat64(0, value, true);
    for (let i = 0; i < 8; i++) sample.push(double.getUint8(i));
    sample.push((2 << 3) | 0);
    varint(ms, sample);
    field(2, sample, out);
  }
  return out;
}

/** The protobuf bytes of a WriteRequest {timeseries = 1}. */
export function encodeWriteRequest(series: Series[]): Uint8Array {
  const out: number[] = [];
  for (const s of series) field(1, encodeSeries(s), out);
  return Uint8Array.from(out);
}

/**
 * A snappy block holding `data` as literals only: the uncompressed length as a varint, then literal elements (tag
 * 0b111100 = 60: one byte of length - 1 follows; 63: four bytes). Valid snappy that any decoder reads; it just
 * does not compress, which a loopback push does not need.
 */
export function snappyBlock(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  varint(data.length, out);
  const CHUNK = 65_536;
  for (let at = 0; at < data.length; at += CHUNK) {
    const n = Math.min(CHUNK, data.length - at);
    if (n <= 60) out.push((n - 1) << 2);
    else out.push(63 << 2, (n - 1) & 0xff, ((n - 1) >> 8) & 0xff, ((n - 1) >> 16) & 0xff, 0);
    for (let i = at; i < at + n; i++) out.push(data[i]!);
  }
  return Uint8Array.from(out);
}

/** POSTs series to a remote-write endpoint (Mimir: `${url}/api/v1/push`) for a tenant; throws unless 2xx. */
export async function remoteWrite(pushUrl: string, tenant: string, series: Series[]): Promise<void> {
  const res = await fetch(pushUrl, {
    method: "POST",
    headers: {
      "content-type": "application/x-protobuf",
      "content-encoding": "snappy",
      "x-prometheus-remote-write-version": "0.1.0",
      "x-scope-orgid": tenant,
    },
    body: Buffer.from(snappyBlock(encodeWriteRequest(series))),
  });
  if (!res.ok) throw new Error(`remote write for ${tenant} to ${pushUrl}: ${res.status} ${await res.text()}`);
}
