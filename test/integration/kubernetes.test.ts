import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Container, containersOf, type K8sObject, kustomizations, kustomize } from "../support/kustomize.js";

// deploy/kubernetes, rendered as kustomize would (test/support/kustomize.ts), each object validated against the
// Kubernetes OpenAPI schemas (kubernetes-models: types, required fields, enums; unknown fields are not caught,
// as with kubeconform without -strict), the wiring between objects checked, and the fairgate configs in the
// ConfigMap run through `fairgate check-config` with the environment their Deployments give them.
const ROOT = new URL("../../deploy/kubernetes/", import.meta.url).pathname;
const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), "fairgate-k8s-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Validates one object with the model of its apiVersion and kind; throws the schema's complaint. */
async function validate(o: K8sObject): Promise<void> {
  const module = (await import(`kubernetes-models/${o.apiVersion}`)) as Record<
    string,
    new (
      data: unknown,
    ) => { validate(): void }
  >;
  const Model = module[o.kind];
  if (!Model) throw new Error(`${o.apiVersion} ${o.kind}: no such kind`);
  new Model(o).validate();
}

const overlay = kustomize(join(ROOT, "overlays/example"));
const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => overlay.find((o) => o.kind === kind && o.metadata.name === name)!;
const workloads = overlay.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
const fairgate = byKind(overlay, "Deployment").filter((d) => d.metadata.name.startsWith("fairgate-"));
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe("Kubernetes manifests (deploy/kubernetes)", () => {
  it.each(kustomizations(ROOT).map((d) => [d.slice(ROOT.length)]))("%s renders and validates", async (dir) => {
    const objects = kustomize(join(ROOT, dir));
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) await expect(validate(o), `${o.kind} ${o.metadata.name}`).resolves.toBeUndefined();
  });

  it("the validation can fail: a port given as text is refused", async () => {
    const broken = structuredClone(named("Deployment", "fairgate-edge"));
    broken.spec.template.spec.containers[0].ports[0].containerPort = "8080";
    await expect(validate(broken)).rejects.toThrow(/containerPort must be integer/);
  });

  it("has the edge with an HPA, the frontend replicas, NATS, memcached, Services and PodDisruptionBudgets", () => {
    const kinds = overlay.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toEqual(
      expect.arrayContaining([
        "Deployment/fairgate-edge",
        "Deployment/fairgate-frontend",
        "HorizontalPodAutoscaler/fairgate-edge",
        "StatefulSet/nats",
        "StatefulSet/memcached",
        "Service/fairgate",
        "Service/fairgate-frontend",
        "Service/nats",
        "Service/memcached",
        "PodDisruptionBudget/fairgate-edge",
        "PodDisruptionBudget/fairgate-frontend",
        "NetworkPolicy/fairgate",
        "ConfigMap/fairgate-config",
      ]),
    );
    for (const o of overlay) expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe("fairgate");
    for (const d of fairgate) expect(containersOf(d)[0]!.image).toBe("registry.example.com/fairgate:0.1.0");
  });

  it("wires every selector to pods that exist", () => {
    const podLabels = workloads.map((w) => w.spec.template.metadata.labels as Record<string, string>);
    for (const w of workloads) expect(matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels)).toBe(true);
    for (const s of byKind(overlay, "Service"))
      expect(
        podLabels.some((l) => matches(s.spec.selector, l)),
        `Service ${s.metadata.name}`,
      ).toBe(true);
    for (const p of byKind(overlay, "PodDisruptionBudget"))
      expect(
        podLabels.some((l) => matches(p.spec.selector.matchLabels, l)),
        `PDB ${p.metadata.name}`,
      ).toBe(true);
    const hpa = named("HorizontalPodAutoscaler", "fairgate-edge");
    expect(named(hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name)).toBeDefined();
  });

  it("probes /healthz and /ready on the main port, and exposes the admin port through no Service", () => {
    for (const d of fairgate) {
      const c = containersOf(d)[0]!;
      expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
      expect(c.readinessProbe.httpGet).toEqual({ path: "/ready", port: "http" });
      expect(c.ports).toEqual(expect.arrayContaining([{ name: "http", containerPort: 8080 }]));
      expect(c.ports).toEqual(expect.arrayContaining([{ name: "admin", containerPort: 9091 }]));
      expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    }
    for (const s of byKind(overlay, "Service"))
      for (const p of s.spec.ports) {
        expect(p.port, `Service ${s.metadata.name}`).not.toBe(9091);
        expect([9091, "admin"], `Service ${s.metadata.name}`).not.toContain(p.targetPort);
      }
  });

  it("takes every secret from a Secret, never from a literal", () => {
    for (const w of workloads)
      for (const c of containersOf(w))
        for (const e of (c.env ?? []) as { name: string; value?: string; valueFrom?: K8sObject }[])
          if (/SECRET|TOKEN|PASSWORD/.test(e.name)) {
            expect(e.value, `${w.metadata.name} ${e.name}`).toBeUndefined();
            expect(e.valueFrom?.secretKeyRef?.name).toBe("fairgate");
          }
  });

  it("has a headless Service over Loki's queriers with an http port (SRV _http._tcp)", () => {
    const [svc] = kustomize(join(ROOT, "queriers"));
    expect(svc).toMatchObject({ kind: "Service", metadata: { name: "loki-querier-headless", namespace: "loki" } });
    expect(svc!.spec.clusterIP).toBe("None");
    expect(svc!.spec.ports).toEqual([expect.objectContaining({ name: "http", protocol: "TCP" })]);
  });
});

/** The environment a container gets: Secrets as placeholders, the pod IP as 10.0.0.5, $(VAR) expanded. */
function containerEnv(c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.valueFrom?.secretKeyRef) env[e.name] = `secret-${e.valueFrom.secretKeyRef.key}-0123456789abcdef0123456789`;
    else if (e.valueFrom?.fieldRef?.fieldPath === "status.podIP") env[e.name] = "10.0.0.5";
    else env[e.name] = String(e.value).replace(/\$\((\w+)\)/g, (_m, v: string) => env[v] ?? "");
  }
  return env;
}

/** `fairgate check-config` on the config a Deployment's container runs, with that container's environment. */
function checkConfig(deployment: K8sObject, change: (env: Record<string, string>) => void = () => {}) {
  const c = containersOf(deployment)[0]!;
  const path = c.args[c.args.indexOf("--config") + 1] as string;
  expect(path.startsWith("/etc/fairgate/")).toBe(true);
  const text = named("ConfigMap", "fairgate-config").data[path.slice("/etc/fairgate/".length)];
  expect(text, `${path} in the ConfigMap`).toBeDefined();
  const file = join(scratch, `${deployment.metadata.name}.yaml`);
  writeFileSync(file, text);
  const env = containerEnv(c);
  change(env);
  return spawnSync(process.execPath, ["--import", "tsx", MAIN, "check-config", file], {
    encoding: "utf8",
    timeout: 60_000,
    env: { PATH: process.env.PATH, ...env },
  });
}

describe("the fairgate configs in deploy/kubernetes", { timeout: 120_000 }, () => {
  it.each(fairgate.map((d) => [d.metadata.name, d]))("%s passes check-config with its Deployment's env", (_n, d) => {
    const r = checkConfig(d);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/: ok\n$/);
  });

  it("fails check-config when the Deployment does not give a variable the config uses", () => {
    const r = checkConfig(named("Deployment", "fairgate-frontend"), (env) => {
      delete env.FAIRGATE_MEMBERSHIP_SECRET;
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("environment variable FAIRGATE_MEMBERSHIP_SECRET is not set");
  });
});
