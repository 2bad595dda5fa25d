import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ALIASES } from "../../src/config/aliases.js";
import { loadConfig, loadConfigText } from "../../src/config/load.js";
import { configReference } from "../../src/config/reference-doc.js";

// Deprecated keys (src/config/aliases.ts): each still read, with a warning, to the same parsed result as its new name.
const QUERIERS = [{ url: "http://q:9090" }];
const NATS = { servers: ["nats://nats:4222"], token: "t", prefix: "team" };
const MEMBERSHIP = { advertise_url: "http://10.0.0.5:8080", secret: "m".repeat(24) };

describe("deprecated config keys", () => {
  it("frontend.async.workers: read as frontend.async.job_workers, with a warning", () => {
    const old = loadConfig({ frontend: { queriers: QUERIERS, async: { workers: 3 } } });
    const now = loadConfig({ frontend: { queriers: QUERIERS, async: { job_workers: 3 } } });
    expect(old.warnings).toEqual(["frontend.async.workers is deprecated: use frontend.async.job_workers"]);
    expect(now.warnings).toEqual([]);
    expect(old.config).toEqual(now.config);
    expect(old.config.frontend?.async.job_workers).toBe(3);
  });

  it("frontend.async.workers beside job_workers: the new name wins, and the warning says so", () => {
    const both = loadConfig({ frontend: { queriers: QUERIERS, async: { workers: 3, job_workers: 5 } } });
    expect(both.config.frontend?.async.job_workers).toBe(5);
    expect(both.warnings).toEqual([
      "frontend.async.workers is deprecated: use frontend.async.job_workers (job_workers is given too: workers " +
        "is ignored)",
    ]);
  });

  it("leaves the caller's object as it was", () => {
    const input = { frontend: { queriers: QUERIERS, async: { workers: 3 } } };
    loadConfig(input);
    expect(input.frontend.async).toEqual({ workers: 3 });
  });

  it("frontend.membership.nats: the same as the top-level nats block, with a warning", () => {
    const old = loadConfig({ frontend: { queriers: QUERIERS, membership: { ...MEMBERSHIP, nats: NATS } } });
    const now = loadConfig({ nats: NATS, frontend: { queriers: QUERIERS, membership: MEMBERSHIP } });
    expect(old.warnings).toEqual(["frontend.membership.nats is deprecated: use nats (the top-level block, shared)"]);
    expect(now.warnings).toEqual([]);
    expect(old.config.frontend?.membership).toEqual(now.config.frontend?.membership);
    expect(now.config.frontend?.membership?.nats).toMatchObject({ ...NATS, replicas: 1, timeout: 5000 });
  });

  it("frontend.async.nats: the same as the top-level nats block, with a warning", () => {
    const old = loadConfig({ frontend: { queriers: QUERIERS, async: { store: "nats", nats: NATS } } });
    const now = loadConfig({ nats: NATS, frontend: { queriers: QUERIERS, async: { store: "nats" } } });
    expect(old.warnings).toEqual(["frontend.async.nats is deprecated: use nats (the top-level block, shared)"]);
    expect(now.warnings).toEqual([]);
    expect(old.config.frontend?.async).toEqual(now.config.frontend?.async);
  });

  it("one top-level nats block reaches both membership and the async store", () => {
    const { config } = loadConfig({
      nats: NATS,
      frontend: { queriers: QUERIERS, async: { store: "nats" }, membership: MEMBERSHIP },
    });
    expect(config.frontend?.membership?.nats).toBe(config.frontend?.async.nats);
    expect(config.frontend?.async.nats?.prefix).toBe("team");
  });

  it("a section's own (deprecated) nats block still applies there over the top-level one", () => {
    const own = { servers: ["nats://other:4222"] };
    const { config, warnings } = loadConfig({
      nats: NATS,
      frontend: { queriers: QUERIERS, async: { store: "nats", nats: own }, membership: MEMBERSHIP },
    });
    expect(config.frontend?.async.nats?.servers).toEqual(own.servers);
    expect(config.frontend?.membership?.nats.servers).toEqual(NATS.servers);
    expect(warnings).toHaveLength(1);
  });

  it("none of the shipped configs uses a deprecated key", () => {
    const dir = new URL("../../config/examples/", import.meta.url);
    const env = {
      FAIRGATE_ACTOR_SECRET: "a".repeat(32),
      FAIRGATE_IDENTITY_SECRET: "i".repeat(32),
      FAIRGATE_ADVERTISE_URL: "http://10.0.0.5:8080",
      FAIRGATE_MEMBERSHIP_SECRET: "m".repeat(32),
    };
    const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
    for (const f of files) expect(loadConfigText(readFileSync(new URL(f, dir), "utf8"), env).warnings, f).toEqual([]);
  });

  it("are listed in docs/configuration.md with their new names, and not in its table of keys", () => {
    const doc = configReference();
    const [table, deprecated] = doc.split("## Deprecated keys");
    for (const { key, use } of ALIASES) {
      expect(deprecated).toContain(`| \`${key}\``);
      expect(deprecated).toContain(use);
      expect(table).not.toContain(`| \`${key}\``);
    }
  });
});
