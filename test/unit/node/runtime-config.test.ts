import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../src/config/load.js";
import { appliedSections, parseRuntimeText, RUNTIME_SECTIONS, withOverrides } from "../../../src/config/runtime.js";
import { RuntimeConfig } from "../../../src/node/runtime-config.js";

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error("no ConfigError");
};

const appliedSectionsOf = (text: string) => appliedSections(base(), parseRuntimeText(text, {}));

const base = (runtimeFile = "/nonexistent") =>
  parseConfig({
    runtime_config: { file: runtimeFile, period: 0 },
    edge: {
      issuers: [{ issuer: "https://idp.example", audiences: ["fairgate"] }],
      tenants: { rules: [{ claim: "groups", read: ["$value"] }] },
      actor: { secret: "actor-secret-for-tests" },
    },
    frontend: { queriers: [{ url: "http://127.0.0.1:9" }], limits: { max_query_length: "30d" } },
  });

describe("a runtime file", () => {
  it("holds the config's per-tenant sections, each by the config's own schema", () => {
    expect(RUNTIME_SECTIONS).toEqual(["edge.tenants", "frontend.limits", "frontend.tenant_limits"]);
    const overrides = parseRuntimeText(
      [
        "edge:",
        "  tenants:",
        "    rules:",
        "      - { claim: groups, values: [ops], read: [team-a], labels: ['namespace=\"ops\"'] }",
        "frontend:",
        "  tenant_limits:",
        "    team-a: { max_query_length: 1h, query_timeout: ${TIMEOUT:-20s} }",
      ].join("\n"),
      {},
    );
    const config = withOverrides(base(), overrides);
    expect(config.edge!.tenants.rules[0]!.values).toEqual(["ops"]);
    expect(config.edge!.tenants.rules[0]!.labels).toHaveLength(1); // parsed, as in the config
    expect(config.frontend!.tenant_limits["team-a"]).toEqual({ max_query_length: 3_600_000, query_timeout: 20_000 });
    // A section left out keeps the config's.
    expect(config.frontend!.limits.max_query_length).toBe(30 * 86_400_000);
    expect(config.frontend!.queriers).toEqual(base().frontend!.queriers);
  });

  it("is empty: nothing replaced", () => {
    const b = base();
    expect(withOverrides(b, parseRuntimeText("", {}))).toEqual(b);
  });

  it("lists every problem by its path, and says what cannot reload", () => {
    expect(
      problemsOf(() =>
        parseRuntimeText(
          [
            "edge: { tenants: { rules: [{ claim: groups, read: ['$value'], labels: ['namespace=~'] }] } }",
            "frontend: { queriers: [], limits: { max_query_length: soon } }",
          ].join("\n"),
          {},
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^edge\.tenants\.rules\[0\]\.labels\[0\]: /),
      'frontend.limits.max_query_length: not a duration: "soon" (use e.g. 500ms, 30s, 5m, 1h)',
      "frontend: unknown key queriers (a runtime file holds only edge.tenants, frontend.limits, " +
        "frontend.tenant_limits; restart to change the rest)",
    ]);
    expect(problemsOf(() => parseRuntimeText("edge: [", {}))[0]).toMatch(/^YAML: /);
    expect(problemsOf(() => parseRuntimeText("frontend: { limits: { query_timeout: ${NOPE} } }", {}))).toContain(
      "line 1: environment variable NOPE is not set",
    );
  });

  it("as docs/operating.md shows it is valid", () => {
    const doc = readFileSync(new URL("../../../docs/operating.md", import.meta.url), "utf8");
    const examples = [...doc.matchAll(/```yaml\n(# runtime file[\s\S]*?)```/g)].map((m) => m[1]!);
    expect(examples).toHaveLength(1);
    for (const text of examples) expect(appliedSectionsOf(text)).toEqual(["edge.tenants", "frontend.tenant_limits"]);
  });

  it("leaves out sections of a part this process does not run", () => {
    const frontendOnly = parseConfig({ frontend: { queriers: [{ url: "http://127.0.0.1:9" }] } });
    const overrides = parseRuntimeText("edge: { tenants: { rules: [{ claim: groups, read: [a] }] } }", {});
    expect(withOverrides(frontendOnly, overrides)).toEqual(frontendOnly);
  });
});

describe("RuntimeConfig", () => {
  let dir: string;
  let file: string;
  let lines: Record<string, unknown>[];
  const logger = () =>
    pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "fairgate-runtime-"));
    file = join(dir, "runtime.yaml");
    lines = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("takes a good file, refuses a broken one and keeps the config in force, in the log and the metrics", async () => {
    writeFileSync(file, "frontend: { limits: { max_query_length: 1h } }\n");
    const runtime = new RuntimeConfig(base(file), logger());
    const first = runtime.current;
    expect(first.frontend!.limits.max_query_length).toBe(3_600_000);
    const taken = runtime.status();
    expect(taken).toMatchObject({ file, lastReloadSuccessful: true, error: null, sections: ["frontend.limits"] });

    writeFileSync(file, "frontend: { limits: { max_query_length: -1h } }\n");
    expect(runtime.reload("SIGHUP").ok).toBe(false);
    expect(runtime.current).toBe(first); // the same object: requests in flight and new ones keep it
    expect(runtime.status()).toMatchObject({
      lastReloadSuccessful: false,
      sha256: taken.sha256,
      error: expect.stringContaining("frontend.limits.max_query_length: not a duration"),
    });
    expect(lines.at(-1)).toMatchObject({ level: 50, msg: "runtime config refused: the one in force stays" });
    const metrics = await runtime.registry.metrics();
    expect(metrics).toMatch(/^fairgate_runtime_config_last_reload_successful 0$/m);
    expect(metrics).toContain(`fairgate_runtime_config_hash{sha256="${taken.sha256}"} 1`);

    // The period reports a refused file once, and takes it when it is mended.
    const logged = lines.length;
    expect(runtime.reload("period")).toEqual({ ok: true, line: "unchanged" });
    expect(lines).toHaveLength(logged);
    writeFileSync(file, "frontend: { limits: { max_query_length: 2h } }\n");
    expect(runtime.reload("period").ok).toBe(true);
    expect(runtime.current.frontend!.limits.max_query_length).toBe(7_200_000);
    expect(first.frontend!.limits.max_query_length).toBe(3_600_000); // never changed in place
    expect(await runtime.registry.metrics()).toMatch(/^fairgate_runtime_config_last_reload_successful 1$/m);
    expect(lines.at(-1)).toMatchObject({ msg: "runtime config reloaded", sections: ["frontend.limits"] });
    runtime.close();
  });

  it("refuses to start on a file that cannot be used", () => {
    expect(problemsOf(() => new RuntimeConfig(base(file), logger()))).toEqual([
      `cannot read runtime_config.file ${file}: no such file`,
    ]);
  });
});
