import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { referenceRows } from "../../src/config/reference.js";
import { configReference } from "../../src/config/reference-doc.js";

describe("configuration reference (docs/configuration.md)", () => {
  it("is what the schema gives: run npm run docs:config after changing src/config/", () => {
    const committed = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
    expect(committed, "docs/configuration.md is stale: run npm run docs:config").toBe(configReference());
  });

  it("lists keys with their types and the defaults the loader applies", () => {
    const cells = new Map(
      configReference()
        .split("\n")
        .filter((l) => l.startsWith("| `"))
        .map((l) =>
          l
            .split("|")
            .slice(1, -1)
            .map((c) => c.trim()),
        )
        .map(([key, ...rest]) => [key!, rest]),
    );
    expect(cells.get("`edge.jwks.cooldown`")).toEqual(["duration", "`30s`", ""]);
    expect(cells.get("`edge.actor.secret`")).toEqual(["string", "", "yes"]);
    expect(cells.get("`routes.write.max_body_bytes`")).toEqual(["size", "`16MiB`", ""]);
    expect(cells.get("`frontend.limits.split_log_queries_by_interval`")).toEqual(["duration", "`1h`", ""]);
    expect(cells.get("`server.admin_public`")).toEqual(["boolean", "`false`", ""]);
  });

  it("follows a schema: nested objects, lists of objects, optional keys and defaults", () => {
    const schema = z.object({
      a: z.object({ b: z.number().int().default(3), c: z.enum(["x", "y"]).optional() }).prefault({}),
      list: z.array(z.object({ url: z.url() })),
    });
    expect(referenceRows(schema)).toEqual([
      { key: "a", type: "object", default: "", required: false },
      { key: "a.b", type: "integer", default: "3", required: false },
      { key: "a.c", type: '"x" \\| "y"', default: "", required: false },
      { key: "list", type: "list of object", default: "", required: true },
      { key: "list[].url", type: "URL", default: "", required: true },
    ]);
  });
});
