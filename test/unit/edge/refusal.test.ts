import { describe, expect, it } from "vitest";
import { refusal } from "../../../src/edge/refusal.js";
import { ApiError } from "../../../src/http/errors.js";

describe("edge refusal: the error a request is answered with", () => {
  it("an unexpected error: a 500 that tells the client nothing, and its stack to the request's log line", () => {
    const fields: Record<string, unknown> = {};
    const err = refusal(new TypeError("secret detail at /srv/x"), (f) => Object.assign(fields, f));
    expect(err.status).toBe(500);
    expect(err.message).toBe("internal error in the gateway");
    expect(fields.error).toMatch(/^edge: unexpected error: TypeError: secret detail at \/srv\/x\n\s+at /);
    expect(fields.auth_failure).toBeUndefined();
  });

  it("an ApiError as it is; a refused credential is told for the auth-failure metric, another 4xx by its reason", () => {
    const told: Record<string, unknown>[] = [];
    const denied = new ApiError("forbidden", "tenant team-b is not yours");
    expect(refusal(denied, (f) => told.push(f))).toBe(denied);
    const bad = new ApiError("bad_data", "no query");
    expect(refusal(bad, (f) => told.push(f))).toBe(bad);
    expect(told).toEqual([{ auth_failure: "tenant team-b is not yours" }, { reason: "no query" }]);
  });
});
