import { describe, expect, it } from "vitest";
import { ActorPaths } from "../../../src/edge/actor.js";
import type { VerifiedUser } from "../../../src/edge/auth/verifier.js";

const user = (over: Partial<VerifiedUser> = {}): VerifiedUser => ({
  issuer: "https://idp.example.com",
  subject: "alice",
  service: false,
  groups: [],
  scopes: [],
  claims: {},
  expiresAt: Date.now() + 60_000,
  ...over,
});

const actors = (over = {}) =>
  new ActorPaths({
    secret: "0123456789abcdef",
    user_path: "users|{hash}",
    service_path: "services|{client}",
    max_levels: 3,
    ...over,
  });

describe("actor path", () => {
  it("is a stable 32-hex keyed hash under the template, never the raw identity", async () => {
    const a = actors();
    const p = await a.pathFor(user());
    expect(p).toMatch(/^users\|[0-9a-f]{32}$/);
    expect(await a.pathFor(user())).toBe(p);
    expect(p).not.toContain("alice");
    expect(p).not.toContain(Buffer.from("alice").toString("base64"));
  });

  it("differs per subject, per issuer and per secret", async () => {
    const a = actors();
    const base = await a.pathFor(user());
    expect(await a.pathFor(user({ subject: "bob" }))).not.toBe(base);
    expect(await a.pathFor(user({ issuer: "https://other.example.com" }))).not.toBe(base);
    expect(await actors({ secret: "fedcba9876543210" }).pathFor(user())).not.toBe(base);
  });

  it("puts client-credentials tokens under the service template", async () => {
    const p = await actors().pathFor(user({ subject: "svc-ingest", clientId: "svc-ingest", service: true }));
    expect(p).toMatch(/^services\|[0-9a-f]{32}$/);
  });

  it("supports an issuer level", async () => {
    const p = await actors({ user_path: "{issuer}|users|{hash}" }).pathFor(user());
    expect(p).toMatch(/^[0-9a-f]{12}\|users\|[0-9a-f]{32}$/);
  });
});
