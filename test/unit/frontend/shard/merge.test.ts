// Shard merges: number formatting as Prometheus writes samples, and answers a merge refuses.
import { describe, expect, it } from "vitest";
import { ApiError } from "../../../../src/http/errors.js";
import { type Body, CannotMerge, formatValue, mergeShards, parseValue } from "../../../../src/frontend/shard/merge.js";

const matrix = (result: unknown[], extra: Partial<Body> = {}): Body => ({
  status: "success",
  data: { resultType: "matrix", result },
  ...extra,
});

describe("shard merges", () => {
  it.each([
    [1e21, "1000000000000000000000"],
    [1.5e-7, "0.00000015"],
    [-2.5e22, "-25000000000000000000000"],
    [0.1 + 0.2, "0.30000000000000004"],
    [Number.NaN, "NaN"],
    [Number.POSITIVE_INFINITY, "+Inf"],
    [Number.NEGATIVE_INFINITY, "-Inf"],
  ])("writes %s as %s, and reads it back", (v, text) => {
    expect(formatValue(v)).toBe(text);
    expect(Object.is(parseValue(text), v) || (Number.isNaN(v) && Number.isNaN(parseValue(text)))).toBe(true);
  });

  it("sums series of the same labels, keeps a lone shard's text, and keeps warnings once", () => {
    const a = matrix(
      [
        {
          metric: { pod: "p" },
          values: [
            [1, "1.5"],
            [2, "1e-7"],
          ],
        },
      ],
      { warnings: ["w"] },
    );
    const b = matrix([{ metric: { pod: "p" }, values: [[1, "2"]] }], { warnings: ["w"] });
    expect(mergeShards({ kind: "combine", op: "sum" }, [[a, b]])).toEqual(
      matrix(
        [
          {
            metric: { pod: "p" },
            values: [
              [1, "3.5"],
              [2, "1e-7"],
            ],
          },
        ],
        { warnings: ["w"] },
      ),
    );
  });

  it("refuses native histograms and other result types (the query is then asked whole)", () => {
    const h = matrix([{ metric: {}, histograms: [[1, { count: "1" }]] }]);
    expect(() => mergeShards({ kind: "combine", op: "sum" }, [[h]])).toThrow(CannotMerge);
    const v = { status: "success", data: { resultType: "vector", result: [] } };
    expect(() => mergeShards({ kind: "concat" }, [[v]])).toThrow(CannotMerge);
  });

  it("answers 422 when two shards give one label set a sample at the same time, as Prometheus would", () => {
    const a = matrix([{ metric: { a: "1" }, values: [[1, "1"]] }]);
    const e = (() => {
      try {
        mergeShards({ kind: "concat" }, [[a, a]]);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).message).toBe("vector cannot contain metrics with the same labelset");
  });
});
