import { errors } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { IssuerConfig } from "../../../../src/config/schema.js";
import { IdpUnavailable } from "../../../../src/edge/auth/errors.js";
import { IssuerKeys } from "../../../../src/edge/auth/issuer-keys.js";
import { FlightTimeout, SingleFlight } from "../../../../src/edge/auth/single-flight.js";
import { type JwksServer, startJwksServer } from "../../../support/jwks-server.js";

const COOLDOWN = 10_000;
const MAX_AGE = 600_000;

describe("issuer keys", () => {
  let jwks: JwksServer;
  let clock: number;
  let firstKid: string;
  const keysFor = (timeoutMs = 2000) =>
    new IssuerKeys({ issuer: jwks.issuer, jwks_uri: jwks.url } as IssuerConfig, {
      cooldownMs: COOLDOWN,
      maxAgeMs: MAX_AGE,
      timeoutMs,
      now: () => clock,
    });
  const lookup = (keys: IssuerKeys, kid: string) =>
    keys.getKey({ alg: "ES256", kid }, { payload: "", signature: "" }).then(
      () => "found",
      (e: unknown) => e,
    );
  const many = (n: number, keys: IssuerKeys, kid: (i: number) => string) =>
    Promise.all(Array.from({ length: n }, (_, i) => lookup(keys, kid(i))));

  beforeEach(async () => {
    jwks = await startJwksServer();
    firstKid = JSON.parse(atob((await jwks.sign()).split(".")[0]!)).kid;
    clock = 1_000_000;
  });
  afterEach(() => jwks.close());

  it("shares one fetch among concurrent requests for unknown kids on a cold start", async () => {
    jwks.answer({ delayMs: 50 });
    const keys = keysFor();
    const results = await many(300, keys, (i) => `unknown-${i}`);
    expect(results.every((r) => r instanceof errors.JWKSNoMatchingKey)).toBe(true);
    expect(jwks.fetches()).toBe(1);
  });

  it("refetches for an unknown kid at most once per cooldown, and then finds a rotated key", async () => {
    const keys = keysFor();
    expect(await lookup(keys, firstKid)).toBe("found");
    const rotated = await jwks.rotate();
    expect(await lookup(keys, rotated)).toBeInstanceOf(errors.JWKSNoMatchingKey); // cooling down
    expect(jwks.fetches()).toBe(1);

    clock += COOLDOWN;
    jwks.answer({ delayMs: 50 });
    const results = await many(200, keys, (i) => (i % 2 ? rotated : `unknown-${i}`));
    expect(results.filter((r) => r === "found")).toHaveLength(100);
    expect(results.filter((r) => r instanceof errors.JWKSNoMatchingKey)).toHaveLength(100);
    expect(jwks.fetches()).toBe(2);
    expect(await lookup(keys, "unknown-again")).toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(jwks.fetches()).toBe(2);
  });

  it("refreshes after max_age, and keeps deciding with the last keys while the provider is down", async () => {
    const keys = keysFor();
    expect(await lookup(keys, firstKid)).toBe("found");
    jwks.answer("down");
    clock += MAX_AGE;
    expect(await lookup(keys, firstKid)).toBe("found");
    expect(jwks.fetches()).toBe(2);
    expect(await lookup(keys, firstKid)).toBe("found"); // no new attempt within the cooldown
    expect(jwks.fetches()).toBe(2);
    // A kid the last keys do not know cannot be decided while the provider is down: 503, not 401.
    const e = await lookup(keys, "unknown");
    expect(e).toBeInstanceOf(IdpUnavailable);
    expect((e as Error).message).toContain("answered 500");
  });

  it("answers every caller within the timeout when the provider hangs; retries only after the cooldown", async () => {
    jwks.answer("hang");
    const keys = keysFor(300);
    const results = await many(100, keys, () => firstKid);
    expect(results.every((r) => r instanceof IdpUnavailable)).toBe(true);
    expect(jwks.fetches()).toBe(1);
    expect(await lookup(keys, firstKid)).toBeInstanceOf(IdpUnavailable);
    expect(jwks.fetches()).toBe(1);
    expect(await keys.problem()).toContain("unreachable");

    jwks.answer({ delayMs: 0 });
    clock += COOLDOWN;
    expect(await lookup(keys, firstKid)).toBe("found");
    expect(jwks.fetches()).toBe(2);
    expect(await keys.problem()).toBeUndefined();
  });
});

describe("single flight", () => {
  it("runs a task once for every caller that arrives while it runs", async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    const task = () => new Promise<number>((r) => setTimeout(() => r(++runs), 20));
    expect(await Promise.all([flight.run(task, 1000), flight.run(task, 1000), flight.run(task, 1000)])).toEqual([
      1, 1, 1,
    ]);
    expect(await flight.run(task, 1000)).toBe(2);
  });

  it("caps each caller's wait on a never-settling run (a cancelled Workers request), then starts afresh", async () => {
    const flight = new SingleFlight<string>();
    const stuck = flight.run(() => new Promise<string>(() => {}), 50);
    const joined = flight.run(() => Promise.resolve("never used"), 50);
    await expect(stuck).rejects.toBeInstanceOf(FlightTimeout);
    await expect(joined).rejects.toBeInstanceOf(FlightTimeout);
    expect(flight.running).toBe(false);
    expect(await flight.run(() => Promise.resolve("fresh"), 50)).toBe("fresh");
  });
});
