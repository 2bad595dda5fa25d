import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/supervised.js";

// The sources, run as bin/fairgate.js runs the build: in this very node process (tsx's loader), so signals reach it.
const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const BIN = ["--import", "tsx", MAIN];
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [...BIN, ...args], { encoding: "utf8", timeout: 30_000 });
const scratch = mkdtempSync(join(tmpdir(), "fairgate-cli-"));

function configOn(port: number): string {
  const file = join(scratch, `c${port}.yaml`);
  writeFileSync(
    file,
    `server: { listen: "127.0.0.1:${port}" }\nidentity: { secret: "${"s".repeat(32)}" }\nfrontend:\n  queriers: [{ ` +
      `url: "http://127.0.0.1:9" }]\n`,
  );
  return file;
}

// Each CLI run starts node with the TypeScript loader: seconds apiece on a busy machine.
describe("fairgate CLI", { timeout: 120_000 }, () => {
  it("prints its version and help", () => {
    expect(cli("--version").stdout).toMatch(/^fairgate \d+\.\d+\.\d+\n$/);
    const help = cli("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("fairgate [all|edge|frontend] --config FILE");
  });

  it("answers help, and a mistyped command with the one it most likely meant", () => {
    const help = cli("help");
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("fairgate check-config [--config] FILE");
    const typo = cli("chek-config", "config/fairgate.yaml");
    expect(typo.status).toBe(2);
    expect(typo.stderr).toBe(
      "fairgate: unknown command chek-config: did you mean check-config? (see fairgate --help)\n",
    );
  });

  it("refuses the demo issuer on a public address, as check-config and at start", () => {
    const file = join(scratch, "demo-public.yaml");
    writeFileSync(
      file,
      'server: { listen: "0.0.0.0:8080" }\ndemo: { enabled: true }\nfrontend: { queriers: [{ url: "http://127.0.0.1:9" }] }\n',
    );
    for (const args of [
      ["check-config", file],
      ["all", "--config", file],
    ]) {
      const r = cli(...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("demo.enabled: the demo issuer hands out tokens to anybody");
    }
  });

  it("checks a config and lists every problem by its path", () => {
    expect(cli("check-config", "config/fairgate.yaml").stdout).toBe("config/fairgate.yaml: ok\n");
    expect(cli("check-config", "--config", "config/fairgate.yaml").stdout).toBe("config/fairgate.yaml: ok\n");
    expect(cli("check-config").stderr).toContain("check-config needs one FILE");
    const bad = join(scratch, "bad.yaml");
    writeFileSync(bad, "edge:\n  issuers: [{ issuer: nope }]\n  actor: { secret: x }\n");
    const r = cli("check-config", bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("edge.issuers[0].issuer: must be an http(s) URL");
    expect(r.stderr).toContain("edge.issuers[0].audiences: required");
    expect(r.stderr).toContain("edge.tenants: required");
  });

  it("lists the deprecated keys a config uses, with their new names", () => {
    const old = join(scratch, "deprecated.yaml");
    writeFileSync(old, "frontend:\n  queriers: [{ url: http://127.0.0.1:9 }]\n  async: { workers: 2 }\n");
    const r = cli("check-config", old);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      `${old}: ok, 1 deprecated\n  warning: frontend.async.workers is deprecated: use frontend.async.job_workers\n`,
    );
  });

  it("checks the config's runtime file too", () => {
    const runtime = join(scratch, "runtime.yaml");
    const config = join(scratch, "with-runtime.yaml");
    writeFileSync(
      config,
      `${"frontend:\n  queriers: [{ url: http://127.0.0.1:9 }]\n"}runtime_config: { file: ${runtime} }\n`,
    );
    writeFileSync(runtime, "frontend: { tenant_limits: { team-a: { max_query_length: 1h } } }\n");
    expect(cli("check-config", config).stdout).toBe(`${config}: ok\n${runtime}: ok (frontend.tenant_limits)\n`);
    writeFileSync(runtime, "frontend: { limits: { max_query_length: soon } }\n");
    const r = cli("check-config", config);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${runtime}: frontend.limits.max_query_length: not a duration: "soon"`);
  });

  it("says in one line that a config file is missing", () => {
    const r = cli("all", "--config", "/nonexistent/fairgate.yaml");
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(2);
    expect(r.stderr).toContain("cannot read config file /nonexistent/fairgate.yaml: no such file");
  });

  it("says in one line that the port is in use", async () => {
    const port = await freePort();
    const blocker = createServer().listen(port, "127.0.0.1");
    await new Promise((r) => blocker.once("listening", r));
    try {
      const r = cli("frontend", "--config", configOn(port));
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`fairgate: cannot listen on 127.0.0.1:${port}: the port is already in use\n`);
    } finally {
      blocker.close();
    }
  });

  it("logs each deprecated key of its config once at start, and starts", async () => {
    const port = await freePort();
    const file = configOn(port);
    writeFileSync(file, `${readFileSync(file, "utf8")}  async: { workers: 2 }\n`);
    const child = spawn(process.execPath, [...BIN, "frontend", "--config", file], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let [out, err] = ["", ""];
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    try {
      await expect.poll(() => out, { timeout: 90_000 }).toContain(`listening on http://127.0.0.1:${port}`);
      expect(err.split("\n").filter((l) => l.includes("deprecated"))).toEqual([
        "fairgate: warning: frontend.async.workers is deprecated: use frontend.async.job_workers",
      ]);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("drains and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [...BIN, "frontend", "--config", configOn(port)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      await expect.poll(() => out, { timeout: 90_000 }).toContain(`listening on http://127.0.0.1:${port}`);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(out).toContain("SIGTERM: draining");
    } finally {
      child.kill("SIGKILL"); // a failed test leaves nothing running
    }
  });
});

describe("fairgate all (demo mode), for operators", { timeout: 120_000 }, () => {
  let child: ChildProcess;
  let out = "";
  let url: string;
  let admin: string;
  const env = { ...process.env };

  beforeAll(async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    Object.assign(env, { FAIRGATE_PORT: String(port), FAIRGATE_ADMIN_PORT: String(adminPort) });
    [url, admin] = [`http://127.0.0.1:${port}`, `http://127.0.0.1:${adminPort}`];
    child = spawn(process.execPath, [...BIN, "all", "--config", "config/fairgate.yaml"], { env });
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!out.includes(`listening on ${url}`)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`fairgate did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(() => child?.kill("SIGKILL"));

  it("refuses a malformed LogQL or PromQL query with 400 in the backend's own format", async () => {
    const token = await (await fetch(`${url}/demo/oidc/token?user=alice`)).text();
    const ask = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const loki = await ask(`/loki/api/v1/query_range?query=${encodeURIComponent('sum(rate({app="api"}[5m])')}`);
    expect(loki.status).toBe(400);
    expect(loki.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await loki.text()).toBe("parse error at line 1, col 26: syntax error: unexpected end of input");
    const prom = await ask(`/api/v1/query?query=${encodeURIComponent("rate(up[5m]")}`);
    expect(prom.status).toBe(400);
    expect(await prom.json()).toEqual({
      status: "error",
      errorType: "bad_data",
      error: 'invalid parameter "query": 1:12: parse error: unexpected end of input',
    });
    // Well-formed queries still get the demo's data.
    expect((await ask(`/loki/api/v1/query?query=${encodeURIComponent("vector(1)")}`)).status).toBe(200);
    expect((await ask("/api/v1/query?query=up")).status).toBe(200);
  });

  it("actor-hash prints the actor path the user's queries carry", async () => {
    const token = (await (await fetch(`${url}/demo/oidc/token?user=alice`)).text()).trim();
    // The demo querier answers label values of actor_path with the X-Loki-Actor-Path it was sent.
    const res = await fetch(`${url}/loki/api/v1/label/actor_path/values`, {
      headers: { authorization: `Bearer ${token}`, "x-scope-orgid": "team-a" },
    });
    const seen = ((await res.json()) as { data: string[] }).data;
    const r = spawnSync(
      process.execPath,
      [...BIN, "actor-hash", "--config", "config/fairgate.yaml", "--issuer", `${url}/demo/oidc`, "--subject", "alice"],
      { encoding: "utf8", env, timeout: 30_000 },
    );
    expect(r.stderr).toBe("");
    expect(seen).toEqual([r.stdout.trim()]);
    expect(r.stdout).toMatch(/^users\|[0-9a-f]{32}\n$/);
    // Another subject, another path.
    expect(
      cli("actor-hash", "--config", "config/fairgate.yaml", "--issuer", `${url}/demo/oidc`, "--subject", "bob").stdout,
    ).not.toBe(r.stdout);
    expect(cli("actor-hash", "--config", "config/fairgate.yaml", "--issuer", "x").stderr).toContain(
      "--subject is required",
    );
  });

  it("serves /healthz, /ready and process metrics on the admin listener", async () => {
    expect(await (await fetch(`${admin}/healthz`)).text()).toBe("ok\n");
    expect((await fetch(`${admin}/ready`)).status).toBe(200);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_seconds",
      "nodejs_active_handles_total",
      "fairgate_requests_total",
    ])
      expect(metrics).toContain(name);
  });

  it("logs levels by name", async () => {
    await expect.poll(() => out).toContain('"msg":"request"');
    const line = out.split("\n").find((l) => l.includes('"msg":"request"'))!;
    expect(JSON.parse(line)).toMatchObject({ level: "info", msg: "request" });
  });
});
