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
    const text = configReference();
    expect(text).toContain("| `edge.jwks.cooldown` | duration | `30s` |  |");
    expect(text).toContain("| `edge.actor.secret` | string |  | yes |");
    expect(text).toContain("| `routes.write.max_body_bytes` | size | `16MiB` |  |");
    expect(text).toContain("| `frontend.limits.split_log_queries_by_interval` | duration | `1h` |  |");
    expect(text).toContain("| `server.admin_public` | boolean | `false` |  |");
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
