import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parser } from "@grafana/lezer-logql";
import { describe, expect, it } from "vitest";

// npm warns EBADENGINE on every install: @grafana/lezer-logql declares node >= 24 (and npm >= 11.12), the
// engines of the tooling it is built with, while fairgate says node >= 20.3. What it ships is a generated parser
// table for @lezer/lr and nothing else, so it runs on any Node fairgate runs on. These tests keep that true:
// they fail when a new version starts importing anything but @lezer/lr, and they parse on the Node running them.
const require = createRequire(import.meta.url);
const root = dirname(require.resolve("@grafana/lezer-logql")); // its main, index.cjs, sits beside package.json
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
  files: string[];
  engines?: { node?: string };
};
const ours = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  engines: { node: string };
};

describe("Node versions", () => {
  it("runs on a Node fairgate's engines allow", () => {
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
    const [wantMajor, wantMinor] = /^>=(\d+)\.(\d+)$/.exec(ours.engines.node)!.slice(1).map(Number) as [number, number];
    expect(major > wantMajor || (major === wantMajor && minor >= wantMinor)).toBe(true);
  });

  it(`@grafana/lezer-logql ships code that imports only @lezer/lr, whatever its engines say`, () => {
    const code = pkg.files.filter((f) => /\.(c|m)?js$/.test(f));
    expect(code.length).toBeGreaterThan(0);
    for (const file of code) {
      const text = readFileSync(join(root, file), "utf8");
      const imports = [...text.matchAll(/(?:from\s*|require\(\s*|import\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]);
      expect(new Set(imports), `${pkg.version} ${file}`).toEqual(new Set(["@lezer/lr"]));
    }
  });

  it("@grafana/lezer-logql parses LogQL on this Node", () => {
    const tree = parser.parse('sum by (app) (rate({app="api"} |= "error" [5m]))');
    let errors = 0;
    tree.iterate({
      enter: (n) => {
        if (n.type.isError) errors++;
      },
    });
    expect(errors).toBe(0);
    expect(tree.topNode.name).toBe("LogQL");
  });
});
