import { describe, expect, it } from "vitest";
import { bearerToken } from "../../../../src/edge/auth/bearer.js";
import { ApiError } from "../../../../src/http/errors.js";

const refusal = (header: string | null) => {
  try {
    bearerToken(header);
  } catch (e) {
    if (e instanceof ApiError) return { status: e.status, challenge: e.headers["www-authenticate"] };
    throw e;
  }
  throw new Error(`accepted ${header}`);
};

describe("Bearer credentials (RFC 6750)", () => {
  it("takes exactly one b64token after the Bearer scheme, in any case", () => {
    expect(bearerToken("Bearer eyJ.a-b_c~d+e/f==")).toBe("eyJ.a-b_c~d+e/f==");
    expect(bearerToken("bearer  abc")).toBe("abc");
    expect(bearerToken("BEARER abc ")).toBe("abc");
  });

  it("gives no error code when the request has no Bearer credentials", () => {
    for (const h of [null, "", "  ", "Basic YWxpY2U6c2VjcmV0", "Token abc", "Bearerabc", "Digest username=x"])
      expect(refusal(h), String(h)).toEqual({ status: 401, challenge: 'Bearer realm="fairgate"' });
  });

  it("answers invalid_request (400) for a malformed Bearer header", () => {
    for (const h of [
      "Bearer",
      "Bearer ",
      "Bearer a b",
      "Bearer a, Bearer b",
      "Bearer,abc",
      "Bearer a=b",
      "Bearer abc$",
      'Bearer "abc"',
      "Bearer ab\tc",
      "Basic YWxpY2U6c2VjcmV0, Bearer abc",
    ]) {
      const r = refusal(h);
      expect(r.status, h).toBe(400);
      expect(r.challenge, h).toMatch(/^Bearer realm="fairgate", error="invalid_request", error_description="[^"]+"$/);
    }
  });
});
