export type Labels = Record<string, string>;

const utf8 = (s: string) => Buffer.from(s, "utf8");

/** Byte-wise string order, as Go compares strings. */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(utf8(a), utf8(b));
}

const sortedPairs = (l: Labels): [string, string][] => Object.entries(l).sort(([a], [b]) => compareBytes(a, b));

/** Prometheus labels.Compare: pairwise by name then value, in name order; a prefix sorts first. */
export function compareLabels(a: Labels, b: Labels): number {
  const pa = sortedPairs(a);
  const pb = sortedPairs(b);
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const byName = compareBytes(pa[i]![0], pb[i]![0]);
    if (byName !== 0) return byName;
    const byValue = compareBytes(pa[i]![1], pb[i]![1]);
    if (byValue !== 0) return byValue;
  }
  return pa.length - pb.length;
}

/** A canonical key for a label set, independent of key order. */
export function labelsKey(l: Labels): string {
  return JSON.stringify(sortedPairs(l));
}
