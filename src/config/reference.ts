import { globalRegistry, type z } from "zod";
import { formatDurationMs } from "./duration.js";

/**
 * The configuration reference, read off the zod schema itself (scripts/config-docs.ts writes it to
 * docs/configuration.md; a unit test fails when that file is stale), so the documented keys, types and
 * defaults are the ones the loader enforces.
 */
export type ReferenceRow = { key: string; type: string; default: string; required: boolean };

// zod keeps each schema's definition in _zod.def; this walks the kinds the config schema uses.
type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  defaultValue?: unknown;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: z.ZodType[];
  element?: z.ZodType;
  valueType?: z.ZodType;
  entries?: Record<string, string>;
  format?: string;
  values?: unknown[];
  checks?: { _zod: { def: { check: string; format?: string } } }[];
};
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** What schema.ts's duration() and routes.ts's byteSize() are marked as: they parse text into milliseconds, bytes. */
const unitOf = (s: z.ZodType): string | undefined => (globalRegistry.get(s) as { unit?: string } | undefined)?.unit;

/** A deprecated key the schema still reads (marked so in its section's file): listed with the aliases instead. */
const isDeprecated = (s: z.ZodType): boolean => globalRegistry.get(s)?.deprecated === true;

const isInteger = (d: Def) =>
  (d.checks ?? []).some((c) => c._zod.def.check === "number_format" && /int/.test(c._zod.def.format ?? ""));

function typeOf(s: z.ZodType): string {
  const unit = unitOf(s);
  if (unit) return unit;
  const d = defOf(s);
  switch (d.type) {
    case "optional":
    case "default":
    case "prefault":
    case "nullable":
      return typeOf(d.innerType!);
    case "pipe":
      // A preprocess (transform, then the schema) is documented as the schema it ends in.
      return defOf(d.out!).type === "transform" ? typeOf(d.in!) : typeOf(d.out!);
    case "string":
      return d.format === "url" ? "URL" : "string";
    case "number":
      return isInteger(d) ? "integer" : "number";
    case "enum":
      return Object.values(d.entries!)
        .map((v) => JSON.stringify(v))
        .join(" \\| ");
    case "literal":
      return d.values!.map((v) => JSON.stringify(v)).join(" \\| ");
    case "union":
      return d.options!.map(typeOf).join(" or ");
    case "array":
      return `list of ${typeOf(d.element!)}`;
    case "record":
      return `map of ${typeOf(d.valueType!)}`;
    case "transform":
      return "string";
    default:
      return d.type;
  }
}

function formatDefault(value: unknown, unit: string | undefined): string {
  if (value === undefined) return "";
  if (unit === "duration" && typeof value === "number") return value === 0 ? "0" : formatDurationMs(value);
  if (unit === "size" && typeof value === "number") return formatBytes(value);
  if (typeof value === "object" && value !== null && Object.keys(value).length === 0)
    return Array.isArray(value) ? "[]" : "";
  return JSON.stringify(value);
}

const formatBytes = (n: number): string =>
  n === 0 ? "0" : n % 1_048_576 === 0 ? `${n / 1_048_576}MiB` : n % 1024 === 0 ? `${n / 1024}KiB` : String(n);

/** Every key under `schema`, depth first in schema order; objects inside lists get `[]` in their path. */
export function referenceRows(schema: z.ZodType, prefix = "", seen = new Set<z.ZodType>()): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  const object = objectOf(schema);
  if (!object || seen.has(object)) return rows;
  const within = new Set(seen).add(object);
  for (const [name, field] of Object.entries(defOf(object).shape!)) {
    if (isDeprecated(field)) continue;
    const key = prefix ? `${prefix}.${name}` : name;
    let s = field;
    let required = true;
    let dflt: unknown;
    // Wrappers: optional/default/prefault make a key optional; the outermost default is the one applied.
    for (let d = defOf(s); ["optional", "default", "prefault", "nullable"].includes(d.type); d = defOf(s)) {
      required = false;
      if ((d.type === "default" || d.type === "prefault") && dflt === undefined) dflt = d.defaultValue;
      s = d.innerType!;
    }
    const unit = unitOf(s);
    const nested = objectOf(s);
    if (nested && within.has(nested)) {
      rows.push({ key, type: "(as above: a nested condition)", default: "", required });
      continue;
    }
    rows.push({ key, type: typeOf(s), default: formatDefault(dflt, unit), required });
    const element = defOf(s).type === "array" ? defOf(s).element! : undefined;
    const record = defOf(s).type === "record" ? defOf(s).valueType! : undefined;
    if (element) rows.push(...referenceRows(element, `${key}[]`, within));
    else if (record) rows.push(...referenceRows(record, `${key}.<name>`, within));
    else rows.push(...referenceRows(s, key, within));
  }
  return rows;
}

/** The object schema a field holds, looking through wrappers, refinements and preprocessing. */
function objectOf(s: z.ZodType): z.ZodType | undefined {
  const d = defOf(s);
  if (d.type === "object") return s;
  if (["optional", "default", "prefault", "nullable"].includes(d.type)) return objectOf(d.innerType!);
  if (d.type === "pipe") return objectOf(defOf(d.out!).type === "transform" ? d.in! : d.out!);
  return undefined;
}

/**
 * docs/configuration.md: one table of every key, type, default and whether it is required. `applied` gives
 * defaults the code applies after parsing (per-tenant limits: DEFAULT_LIMITS), by the key prefix they apply under.
 */
export function referenceMarkdown(
  schema: z.ZodType,
  applied: Record<string, object> = {},
  deprecated: readonly { key: string; use: string }[] = [],
): string {
  const rows = referenceRows(schema).map((r) => {
    const [prefix, values] = Object.entries(applied).find(([p]) => r.key.startsWith(`${p}.`)) ?? [];
    if (r.default || !prefix || !values) return r;
    const value = (values as Record<string, unknown>)[r.key.slice(prefix.length + 1)];
    return { ...r, default: formatDefault(value, r.type) };
  });
  const cell = (s: string) => (s ? `\`${s.replaceAll("|", "\\|")}\`` : "");
  const lines = [
    "# Configuration reference",
    "",
    "Generated from the schema (`src/config/schema.ts` and the sections it imports) by `npm run docs:config`;",
    "do not edit by hand:",
    "`test/unit/config-reference.test.ts` fails when this file differs from what the schema gives. What each key",
    "means: the annotated examples in [docs/edge.md](edge.md#configuration-reference-edge) and",
    "[docs/frontend.md](frontend.md#configuration-reference-frontend), and the configs in `config/examples/`.",
    "",
    "Durations are `500ms`, `30s`, `5m`, `1h`, `7d` or seconds as a number; sizes (every key of type size) are bytes or",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${NAME} syntax, as text
    "`KiB`/`MiB`/`GiB`, `KB`/`MB`/`GB`. `${NAME}` expands from the environment (`${NAME:-default}`). A key marked",
    "required is required when its section is present.",
    "",
    ...table([
      ["key", "type", "default", "required"],
      ...rows.map((r) => [cell(r.key), r.type, cell(r.default), r.required ? "yes" : ""]),
    ]),
    "",
    ...(deprecated.length
      ? [
          "## Deprecated keys",
          "",
          "Still read, with a warning at start-up and from `fairgate check-config`; move to the new key.",
          "",
          ...table([["deprecated key", "use instead"], ...deprecated.map((d) => [cell(d.key), d.use])]),
          "",
        ]
      : []),
  ];
  return lines.join("\n");
}

/** A Markdown table with its columns padded, as the formatter (biome) lays tables out. */
function table([head, ...body]: string[][]): string[] {
  const widths = head!.map((_, i) => Math.max(3, ...[head!, ...body].map((r) => r[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [row(head!), row(widths.map((w) => "-".repeat(w))), ...body.map(row)];
}
