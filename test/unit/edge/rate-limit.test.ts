import { describe, expect, it } from "vitest";
import { RateLimit, TokenBuckets } from "../../../src/edge/rate-limit.js";
import { ApiError } from "../../../src/http/errors.js";

describe("TokenBuckets", () => {
  it("lets a burst through, then one request per 1/rate seconds, and says how long to wait", () => {
    let now = 0;
    const b = new TokenBuckets(2, 3, 10, () => now);
    expect([b.take("a"), b.take("a"), b.take("a")]).toEqual([0, 0, 0]);
    expect(b.take("a")).toBe(500);
    now = 250;
    expect(b.take("a")).toBe(250);
    now = 500;
    expect(b.take("a")).toBe(0);
    expect(b.take("b")).toBe(0); // each key has its own bucket
  });

  it("never refills past the burst", () => {
    let now = 0;
    const b = new TokenBuckets(1, 2, 10, () => now);
    now = 3_600_000;
    expect([b.take("a"), b.take("a"), b.take("a")]).toEqual([0, 0, 1000]);
  });

  it("keeps at most maxKeys buckets, dropping the least recently used", () => {
    const b = new TokenBuckets(1, 1, 2, () => 0);
    b.take("a");
    b.take("b");
    b.take("a"); // a is now the most recent
    b.take("c"); // b goes
    expect(b.size).toBe(2);
    expect(b.take("b")).toBe(0); // forgotten: full again
    expect(b.take("c")).toBe(1000);
  });
});

describe("RateLimit", () => {
  it("answers 429 with whole seconds of Retry-After, for the actor first, then each tenant", () => {
    const now = 0;
    const limit = new RateLimit(
      { actor: { rate: 0.1, burst: 1 }, tenant: { rate: 10, burst: 1 }, max_keys: 100 },
      () => now,
    );
    limit.check("users|a", ["t1"]);
    const refusal = (() => {
      try {
        limit.check("users|a", ["t2"]);
      } catch (e) {
        return e as ApiError;
      }
    })();
    expect(refusal).toBeInstanceOf(ApiError);
    expect(refusal?.status).toBe(429);
    expect(refusal?.headers["retry-after"]).toBe("10");
    expect(() => limit.check("users|b", ["t1"])).toThrow(
      expect.objectContaining({ message: expect.stringContaining('tenant "t1"'), headers: { "retry-after": "1" } }),
    );
  });

  it("a refused request takes no token: a tenant over its rate does not drain its actors' buckets", () => {
    let now = 0;
    const limit = new RateLimit(
      { actor: { rate: 1, burst: 2 }, tenant: { rate: 1, burst: 1 }, max_keys: 100 },
      () => now,
    );
    limit.check("users|a", ["t1"]); // the tenant's only token
    for (let i = 0; i < 5; i++) expect(() => limit.check("users|a", ["t1"])).toThrow(/tenant "t1"/);
    // The actor still has its second token: another tenant's request goes through, then the actor is out.
    limit.check("users|a", ["t2"]);
    expect(() => limit.check("users|a", ["t3"])).toThrow(/you are sending requests/);
    now = 1000;
    limit.check("users|a", ["t1"]);
  });
});
