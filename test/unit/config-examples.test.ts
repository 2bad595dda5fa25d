import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/load.js";

const dir = new URL("../../config/examples/", import.meta.url);
const env = {
  FAIRGATE_ACTOR_SECRET: "0123456789abcdef0123456789abcdef",
  FAIRGATE_IDENTITY_SECRET: "0123456789abcdef0123456789abcdef",
  FAIRGATE_ADVERTISE_URL: "http://10.0.0.5:8080",
  FAIRGATE_MEMBERSHIP_SECRET: "0123456789abcdef0123456789abcdef",
};

describe("config examples", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  it("has the deployments the README names", () => {
    expect(files.sort()).toEqual([
      "edge-on-workers.yaml",
      "loki.yaml",
      "memcached.yaml",
      "mimir.yaml",
      "replicas.yaml",
      "several-queriers.yaml",
    ]);
  });
  it.each(files)("%s is valid", (f) => {
    expect(() => parseConfigText(readFileSync(new URL(f, dir), "utf8"), env)).not.toThrow();
  });
});

describe("wrangler.toml", () => {
  it("carries a valid edge config in FAIRGATE_CONFIG", () => {
    const toml = readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
    const yaml = /FAIRGATE_CONFIG = """\n([\s\S]*?)"""/.exec(toml)?.[1];
    expect(yaml).toBeDefined();
    const config = parseConfigText(yaml!, {
      ACTOR_SECRET: env.FAIRGATE_ACTOR_SECRET,
      IDENTITY_SECRET: env.FAIRGATE_IDENTITY_SECRET,
    });
    expect(config.edge?.upstream.read_url).toMatch(/^https:/);
    expect(config.identity?.secret).toBe(env.FAIRGATE_IDENTITY_SECRET);
  });
});

describe("systemd unit (config/examples/fairgate.service)", () => {
  const unit = readFileSync(new URL("fairgate.service", dir), "utf8");
  const value = (key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(unit)?.[1];

  it("runs fairgate itself as the main process, so systemd's stop signal reaches it", () => {
    // env finds fairgate where npm put it (/usr/bin with Debian's nodejs, /usr/local/bin otherwise) and execs it.
    expect(value("ExecStart")).toMatch(/^\/usr\/bin\/env fairgate all --config \/etc\/fairgate\/fairgate\.yaml$/);
    expect(value("Type")).toBe("exec");
    expect(value("KillSignal")).toBe("SIGTERM");
    expect(value("KillMode")).toBe("mixed");
  });

  it("waits longer than the drain before killing, and reloads TLS with SIGHUP", () => {
    expect(Number(value("TimeoutStopSec"))).toBeGreaterThan(10);
    expect(value("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
  });
});

describe("config/examples/loki.yaml and mimir.yaml follow docs/queriers.md (fairgate in front of the queriers)", () => {
  const load = (f: string) => parseConfigText(readFileSync(new URL(f, dir), "utf8"), env).frontend!;
  it.each(["loki.yaml", "mimir.yaml"])(
    "%s: one idle-actor slot per querier, slots = the 2 cores it is sized for",
    (f) => {
      const frontend = load(f);
      expect(frontend.queriers.length).toBeGreaterThanOrEqual(2);
      for (const q of frontend.queriers) {
        expect(q.idle_actor_slots).toBe(1);
        expect(q.max_concurrent + q.idle_actor_slots).toBe(2);
      }
    },
  );
  it("loki.yaml: log queries split by Loki's own hour, metric queries by day (fewer pieces and cache entries)", () => {
    const frontend = load("loki.yaml");
    expect(frontend.limits.split_log_queries_by_interval).toBe(3_600_000);
    expect(frontend.limits.split_metric_queries_by_interval).toBe(86_400_000);
  });
});
