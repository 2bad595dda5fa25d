import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, parse as parseYaml } from "yaml";

/**
 * The part of kustomize that deploy/kubernetes uses, so the tests can render its overlays without kubectl:
 * resources (files and directories holding a kustomization.yaml), namespace, configMapGenerator with files and
 * generatorOptions.disableNameSuffixHash, and images. Any other field is refused rather than ignored, so a
 * manifest that needs more of kustomize fails here instead of rendering wrongly. `kubectl kustomize DIR` (or the
 * kustomize binary) is the real renderer.
 */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // Free-form until validated against the schemas.
  [key: string]: any;
};

const SUPPORTED = new Set([
  "apiVersion",
  "kind",
  "resources",
  "namespace",
  "configMapGenerator",
  "generatorOptions",
  "images",
]);

type Kustomization = {
  resources?: string[];
  namespace?: string;
  configMapGenerator?: { name: string; files: string[] }[];
  generatorOptions?: { disableNameSuffixHash?: boolean };
  images?: { name: string; newName?: string; newTag?: string }[];
};

export function kustomize(dir: string): K8sObject[] {
  const k = parseYaml(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as Kustomization;
  const unsupported = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unsupported.length) throw new Error(`${dir}: ${unsupported.join(", ")} not supported by the test renderer`);
  const objects: K8sObject[] = [];
  for (const r of k.resources ?? []) {
    const path = join(dir, r);
    if (statSync(path).isDirectory()) objects.push(...kustomize(path));
    else
      for (const doc of parseAllDocuments(readFileSync(path, "utf8"))) {
        if (doc.errors.length) throw new Error(`${path}: ${doc.errors[0]!.message}`);
        const o = doc.toJS() as K8sObject | null;
        if (o) objects.push(o);
      }
  }
  if (k.configMapGenerator?.length && !k.generatorOptions?.disableNameSuffixHash)
    throw new Error(`${dir}: the test renderer needs generatorOptions.disableNameSuffixHash: true`);
  for (const g of k.configMapGenerator ?? []) {
    const data: Record<string, string> = {};
    for (const f of g.files) {
      const [key, file] = f.includes("=") ? (f.split("=", 2) as [string, string]) : [f.split("/").at(-1)!, f];
      data[key] = readFileSync(join(dir, file), "utf8");
    }
    objects.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: g.name }, data });
  }
  for (const o of objects) {
    if (k.namespace) o.metadata.namespace = k.namespace;
    for (const c of containersOf(o))
      for (const i of k.images ?? [])
        if (c.image === i.name || c.image.startsWith(`${i.name}:`)) {
          const tag = i.newTag ?? c.image.split(":")[1];
          c.image = `${i.newName ?? i.name}${tag ? `:${tag}` : ""}`;
        }
  }
  return objects;
}

export type Container = { name: string; image: string; [key: string]: any };

/** The containers of a workload's pod template (none for other kinds). */
export function containersOf(o: K8sObject): Container[] {
  return o.spec?.template?.spec?.containers ?? [];
}

/** Every directory under `root` that holds a kustomization.yaml. */
export function kustomizations(root: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(root, { withFileTypes: true }))
    if (e.isDirectory()) {
      const d = join(root, e.name);
      if (readdirSync(d).includes("kustomization.yaml")) out.push(d);
      out.push(...kustomizations(d));
    }
  return out;
}
