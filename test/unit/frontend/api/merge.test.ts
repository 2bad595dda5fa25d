import { describe, expect, it } from "vitest";
import { compareLabels, labelsKey } from "../../../../src/frontend/api/labels.js";
import {
  mergeLokiStats,
  mergeMatrix,
  mergeSeries,
  mergeStreams,
  mergeStrings,
  mergeVolume,
  sumNumbers,
} from "../../../../src/frontend/api/merge.js";

type Labels = Record<string, string>;
const matrix = (
  result: { metric: Labels; values?: [number, string][]; histograms?: [number, unknown][] }[],
  extra: { warnings?: string[]; infos?: string[]; stats?: unknown } = {},
) => ({
  status: "success",
  data: { resultType: "matrix", result, ...(extra.stats ? { stats: extra.stats } : {}) },
  ...(extra.warnings ? { warnings: extra.warnings } : {}),
  ...(extra.infos ? { infos: extra.infos } : {}),
});
type Entry = [string, string, ...unknown[]];
const streams = (
  result: { stream: Labels; values: Entry[] }[],
  extra: { encodingFlags?: string[]; warnings?: string[] } = {},
) => ({
  status: "success",
  data: { resultType: "streams", result, ...(extra.encodingFlags ? { encodingFlags: extra.encodingFlags } : {}) },
  ...(extra.warnings ? { warnings: extra.warnings } : {}),
});
const data = (b: unknown) => (b as { data: Record<string, unknown> }).data;
const result = <T>(b: unknown) => data(b).result as T[];

describe("labels", () => {
  it("compares like Prometheus labels.Compare: by name, then value, byte-wise; a prefix first", () => {
    const sorted: Labels[] = [
      { Z: "1" },
      { __name__: "up", job: "x" },
      { a: "1" },
      { a: "1", b: "2" },
      { a: "10" },
      { a: "9" },
      { a: "9", c: "" },
      { b: "0" },
    ];
    const shuffled = [
      sorted[5],
      sorted[0],
      sorted[7],
      sorted[3],
      sorted[1],
      sorted[6],
      sorted[2],
      sorted[4],
    ] as Labels[];
    expect([...shuffled].sort(compareLabels)).toEqual(sorted);
  });

  it("orders by UTF-8 bytes, not UTF-16 code units", () => {
    // U+FF61 is EF BD A1 in UTF-8 (before F0 9F 98 80 of U+1F600) but 0xFF61 > 0xD83D in UTF-16.
    expect(compareLabels({ a: "\uFF61" }, { a: "\u{1F600}" })).toBeLessThan(0);
    expect(compareLabels({ "\u{1F600}": "" }, { "\uFF61": "" })).toBeGreaterThan(0);
  });

  it("keys label sets independently of key order", () => {
    expect(labelsKey({ a: "1", b: "2" })).toBe(labelsKey({ b: "2", a: "1" }));
    expect(labelsKey({ a: "1", b: "2" })).not.toBe(labelsKey({ a: "1", b: "3" }));
    expect(labelsKey({ ab: "" })).not.toBe(labelsKey({ a: "b" }));
  });
});

describe("mergeMatrix", () => {
  it("concatenates each series, drops the boundary duplicate timestamp and sorts series by labels", () => {
    const a = matrix([
      {
        metric: { job: "b" },
        values: [
          [1, "1"],
          [2, "2"],
        ],
      },
      { metric: { job: "a", z: "1" }, values: [[2, "x"]] },
    ]);
    const b = matrix([
      {
        metric: { job: "b" },
        values: [
          [2, "2"],
          [3, "3"],
        ],
      },
      { metric: { z: "1", job: "a" }, values: [[3, "y"]] },
      { metric: { job: "a" }, values: [[3, "z"]] },
    ]);
    const before = structuredClone([a, b]);
    const out = mergeMatrix([a, b]);
    expect(out).toEqual({
      status: "success",
      data: {
        resultType: "matrix",
        result: [
          { metric: { job: "a" }, values: [[3, "z"]] },
          {
            metric: { job: "a", z: "1" },
            values: [
              [2, "x"],
              [3, "y"],
            ],
          },
          {
            metric: { job: "b" },
            values: [
              [1, "1"],
              [2, "2"],
              [3, "3"],
            ],
          },
        ],
      },
    });
    expect([a, b]).toEqual(before); // inputs untouched
  });

  it("keeps a series that only some parts have, and parts with an empty result", () => {
    const out = mergeMatrix([matrix([]), matrix([{ metric: { a: "1" }, values: [[5, "1"]] }]), matrix([])]);
    expect(result(out)).toEqual([{ metric: { a: "1" }, values: [[5, "1"]] }]);
  });

  it("merges native histograms like float samples", () => {
    const h = (n: number) => ({ count: String(n), sum: String(n * 2), buckets: [[0, "0", "1", String(n)]] });
    const out = mergeMatrix([
      matrix([
        {
          metric: { __name__: "h" },
          histograms: [
            [1, h(1)],
            [2, h(2)],
          ],
        },
      ]),
      matrix([
        {
          metric: { __name__: "h" },
          histograms: [
            [2, h(2)],
            [3, h(3)],
          ],
          values: [[4, "1"]],
        },
      ]),
    ]);
    expect(result(out)).toEqual([
      {
        metric: { __name__: "h" },
        histograms: [
          [1, h(1)],
          [2, h(2)],
          [3, h(3)],
        ],
        values: [[4, "1"]],
      },
    ]);
  });

  it("de-duplicates warnings and infos in first-seen order and omits them when there are none", () => {
    const out = mergeMatrix([
      matrix([], { warnings: ["w1", "w2"] }),
      matrix([], { warnings: ["w2", "w3", "w1"], infos: ["i2"] }),
      matrix([], { infos: ["i1", "i2"] }),
    ]) as { warnings?: string[]; infos?: string[] };
    expect(out.warnings).toEqual(["w1", "w2", "w3"]);
    expect(out.infos).toEqual(["i2", "i1"]);
    const none = mergeMatrix([matrix([]), matrix([])]);
    expect(none).not.toHaveProperty("warnings");
    expect(none).not.toHaveProperty("infos");
    expect(data(none)).not.toHaveProperty("stats");
  });

  it("sums Loki stats, recomputes the rates and counts the parts as splits", () => {
    const stats = (execTime: number, bytes: number, lines: number) => ({
      summary: {
        bytesProcessedPerSecond: 1,
        linesProcessedPerSecond: 1,
        totalBytesProcessed: bytes,
        totalLinesProcessed: lines,
        execTime,
        queueTime: 0.25,
        splits: 24,
        shards: 24,
        totalEntriesReturned: 5,
      },
      querier: { store: { totalChunksRef: 3, chunk: { decompressedBytes: bytes } } },
      cache: { chunk: { requests: 2, downloadTime: 10 } },
    });
    const out = mergeMatrix([matrix([], { stats: stats(1, 100, 10) }), matrix([], { stats: stats(3, 500, 50) })]);
    expect(data(out).stats).toEqual({
      summary: {
        bytesProcessedPerSecond: 150,
        linesProcessedPerSecond: 15,
        totalBytesProcessed: 600,
        totalLinesProcessed: 60,
        execTime: 4,
        queueTime: 0.5,
        splits: 2,
        shards: 48,
        totalEntriesReturned: 10,
      },
      querier: { store: { totalChunksRef: 6, chunk: { decompressedBytes: 600 } } },
      cache: { chunk: { requests: 4, downloadTime: 20 } },
    });
  });

  it("counts only the parts that had stats", () => {
    const s = (n: number) => ({
      summary: { execTime: n, totalBytesProcessed: 10 * n, totalLinesProcessed: n, splits: 7 },
    });
    expect((mergeLokiStats([s(1), undefined, s(1)]) as { summary: { splits: number } }).summary.splits).toBe(2);
    expect(mergeLokiStats([undefined, undefined])).toBeUndefined();
    // bodies without a summary (index/stats-like) are summed as they are
    expect(mergeLokiStats([{ streams: 1 }, { streams: 2 }])).toEqual({ streams: 3 });
  });
});

describe("mergeStreams", () => {
  const A = { app: "a" };
  const B = { app: "b" };

  it("backward: the newest `limit` entries over all streams, streams ordered by their first entry", () => {
    const older = streams([
      {
        stream: A,
        values: [
          ["5", "a5"],
          ["1", "a1"],
        ],
      },
      { stream: B, values: [["4", "b4"]] },
    ]);
    const newer = streams([
      {
        stream: B,
        values: [
          ["9", "b9"],
          ["7", "b7"],
        ],
      },
      { stream: A, values: [["10", "a10"]] },
    ]);
    expect(result(mergeStreams([older, newer], 3, "backward"))).toEqual([
      { stream: A, values: [["10", "a10"]] },
      {
        stream: B,
        values: [
          ["9", "b9"],
          ["7", "b7"],
        ],
      },
    ]);
    expect(result(mergeStreams([older, newer], 5, "backward"))).toEqual([
      {
        stream: A,
        values: [
          ["10", "a10"],
          ["5", "a5"],
        ],
      },
      {
        stream: B,
        values: [
          ["9", "b9"],
          ["7", "b7"],
          ["4", "b4"],
        ],
      },
    ]);
  });

  it("forward: the oldest `limit` entries over all streams", () => {
    const older = streams([
      { stream: B, values: [["4", "b4"]] },
      {
        stream: A,
        values: [
          ["1", "a1"],
          ["5", "a5"],
        ],
      },
    ]);
    const newer = streams([
      {
        stream: B,
        values: [
          ["7", "b7"],
          ["9", "b9"],
        ],
      },
    ]);
    expect(result(mergeStreams([older, newer], 3, "forward"))).toEqual([
      {
        stream: A,
        values: [
          ["1", "a1"],
          ["5", "a5"],
        ],
      },
      { stream: B, values: [["4", "b4"]] },
    ]);
    expect(result(mergeStreams([older, newer], 100, "forward"))).toEqual([
      {
        stream: A,
        values: [
          ["1", "a1"],
          ["5", "a5"],
        ],
      },
      {
        stream: B,
        values: [
          ["4", "b4"],
          ["7", "b7"],
          ["9", "b9"],
        ],
      },
    ]);
  });

  it("compares timestamps as integers: by value, not as strings, and beyond 2^53", () => {
    const out = mergeStreams(
      [
        streams([
          {
            stream: A,
            values: [
              ["10", "ten"],
              ["9", "nine"],
            ],
          },
        ]),
      ],
      1,
      "backward",
    );
    expect(result(out)).toEqual([{ stream: A, values: [["10", "ten"]] }]);
    const close = streams([
      { stream: A, values: [["1795214867749745612", "a"]] },
      { stream: B, values: [["1795214867749745613", "b"]] },
    ]);
    expect(result(mergeStreams([close], 1, "backward"))).toEqual([
      { stream: B, values: [["1795214867749745613", "b"]] },
    ]);
    expect(result(mergeStreams([close], 1, "forward"))).toEqual([
      { stream: A, values: [["1795214867749745612", "a"]] },
    ]);
  });

  it("treats label sets in another key order as the same stream", () => {
    const out = mergeStreams(
      [
        streams([{ stream: { a: "1", b: "2" }, values: [["1", "x"]] }]),
        streams([{ stream: { b: "2", a: "1" }, values: [["2", "y"]] }]),
      ],
      10,
      "forward",
    );
    expect(result<{ values: Entry[] }>(out)).toHaveLength(1);
    expect(result<{ values: Entry[] }>(out)[0]!.values).toEqual([
      ["1", "x"],
      ["2", "y"],
    ]);
  });

  it("keeps categorize-labels entries (three elements) and the encoding flags", () => {
    const meta = (n: number) => ({ structuredMetadata: { trace_id: `t${n}` }, parsed: { status: "500" } });
    const part = (ts: string, n: number) =>
      streams([{ stream: A, values: [[ts, `line ${n}`, meta(n)]] }], { encodingFlags: ["categorize-labels"] });
    const out = mergeStreams([part("1", 1), part("2", 2)], 10, "backward");
    expect(data(out).encodingFlags).toEqual(["categorize-labels"]);
    expect(result(out)).toEqual([
      {
        stream: A,
        values: [
          ["2", "line 2", meta(2)],
          ["1", "line 1", meta(1)],
        ],
      },
    ]);
    expect(data(mergeStreams([streams([]), streams([])], 10, "forward"))).not.toHaveProperty("encodingFlags");
  });

  it("passes warnings through and sums stats", () => {
    const withStats = (n: number) => ({
      ...streams([]),
      data: {
        ...streams([]).data,
        stats: { summary: { execTime: 1, totalBytesProcessed: n, totalLinesProcessed: n } },
      },
      warnings: [`w${n}`],
    });
    const out = mergeStreams([withStats(1), withStats(2), withStats(1)], 10, "forward") as { warnings: string[] };
    expect(out.warnings).toEqual(["w1", "w2"]);
    expect((data(out).stats as { summary: Record<string, number> }).summary).toMatchObject({
      totalBytesProcessed: 4,
      execTime: 3,
      splits: 3,
      bytesProcessedPerSecond: 1,
    });
  });
});

describe("mergeStrings and mergeSeries", () => {
  it("labels and values: a sorted, de-duplicated union (byte order), null data allowed", () => {
    const out = mergeStrings([
      { status: "success", data: ["b", "a", "__name__"] },
      { status: "success", data: null },
      { status: "success", data: ["c", "a", "Z", "\u{1F600}", "\uFF61"] },
    ]);
    expect(out).toEqual({ status: "success", data: ["Z", "__name__", "a", "b", "c", "\uFF61", "\u{1F600}"] });
    expect(
      mergeStrings([
        { status: "success", data: null },
        { status: "success", data: [] },
      ]).data,
    ).toEqual([]);
  });

  it("series: de-duplicated regardless of label key order, sorted by labels", () => {
    const out = mergeSeries([
      {
        status: "success",
        data: [
          { app: "web", env: "prod" },
          { app: "api", env: "prod" },
        ],
      },
      { status: "success", data: [{ env: "prod", app: "api" }, { app: "api" }] },
      { status: "success", data: null },
    ]);
    expect(out.data).toHaveLength(3);
    const want: Labels[] = [{ app: "api" }, { app: "api", env: "prod" }, { app: "web", env: "prod" }];
    expect(out.data.map((l) => labelsKey(l))).toEqual(want.map(labelsKey));
  });
});

describe("sumNumbers", () => {
  it("sums numbers, ORs booleans, recurses into objects, unions keys and skips missing parts", () => {
    expect(
      sumNumbers([
        { streams: 1, chunks: 2, bytes: 3, entries: 4 },
        { streams: 10, chunks: 20, bytes: 30, entries: 40 },
      ]),
    ).toEqual({ streams: 11, chunks: 22, bytes: 33, entries: 44 });
    expect(sumNumbers([{ a: 1 }, undefined, { b: 2 }, null])).toEqual({ a: 1, b: 2 });
    expect(sumNumbers([{ x: { y: 1, f: false } }, { x: { y: 2, f: true } }])).toEqual({ x: { y: 3, f: true } });
    expect(sumNumbers([false, false])).toBe(false);
    expect(sumNumbers([])).toBeUndefined();
    expect(sumNumbers([undefined, null])).toBeUndefined();
    expect(sumNumbers([0.1, 0.2, 0.3])).toBeCloseTo(0.6, 12);
    expect(sumNumbers(["first", "second"])).toBe("first");
  });
});

describe("mergeVolume", () => {
  const vol = (samples: [Labels, number, string][]) => ({
    status: "success",
    data: {
      resultType: "vector",
      result: samples.map(([metric, t, v]) => ({ metric, value: [t, v] as [number, string] })),
    },
  });

  it("sums by label set, sorts by value descending (ties by labels) and applies the limit", () => {
    const out = mergeVolume(
      [
        vol([
          [{ app: "api" }, 100, "10"],
          [{ app: "web" }, 100, "5"],
          [{ app: "db" }, 100, "1"],
        ]),
        vol([
          [{ app: "web" }, 200, "6"],
          [{ app: "cron" }, 200, "11"],
          [{ app: "db" }, 200, "2"],
        ]),
      ],
      3,
    );
    expect(out).toEqual({
      status: "success",
      data: {
        resultType: "vector",
        result: [
          { metric: { app: "cron" }, value: [200, "11"] },
          { metric: { app: "web" }, value: [200, "11"] },
          { metric: { app: "api" }, value: [100, "10"] },
        ],
      },
    });
  });

  it("adds volumes exactly beyond 2^53 and merges label sets in any key order", () => {
    const out = mergeVolume(
      [vol([[{ a: "1", b: "2" }, 1, "9007199254740993"]]), vol([[{ b: "2", a: "1" }, 2, "1"]])],
      10,
    );
    expect(result(out)).toEqual([{ metric: { a: "1", b: "2" }, value: [2, "9007199254740994"] }]);
  });
});
