// server.workers: a real `fairgate edge` with two worker processes behind one listener and one admin listener.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { run } from "../../src/node/run.js";
import { jwksEdgeConfig } from "../support/edge-config.js";
import { startJwksServer, type JwksServer } from "../support/jwks-server.js";
import { freePort } from "../support/supervised.js";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

/** A GET on a connection of its own: the primary hands each new connection to the next worker. */
function getOnNewConnection(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

// Starting node with the TypeScript loader, three times (primary and two workers), takes a while on a busy machine.
describe("fairgate edge with server.workers: 2", { timeout: 120_000 }, () => {
  let jwks: JwksServer;
  let upstream: Server;
  let fairgate: ChildProcess;
  let output = "";
  let scratch: string;
  // fairgate runs in a process group of its own: the test can tell when none of its processes is left.
  const groupAlive = () => {
    try {
      process.kill(-fairgate.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  let url: string;
  let admin: string;
  let runtimeFile: string;
  // Requests to ?query=slow are answered when the test says so.
  const held: (() => void)[] = [];

  beforeAll(async () => {
    jwks = await startJwksServer();
    upstream = createServer((req, res) => {
      const answer = () => res.writeHead(200, { "content-type": "application/json" }).end('{"status":"success"}');
      if (req.url?.includes("query=slow")) held.push(answer);
      else answer();
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const [port, adminPort] = [await freePort(), await freePort()];
    [url, admin] = [`http://127.0.0.1:${port}`, `http://127.0.0.1:${adminPort}`];
    scratch = mkdtempSync(join(tmpdir(), "fairgate-workers-"));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const config = jwksEdgeConfig(jwks, upstreamUrl);
    config.server = { listen: `127.0.0.1:${port}`, admin_listen: `127.0.0.1:${adminPort}`, workers: 2 };
    // Tenant rules from a runtime file, read again on SIGHUP only (no period).
    runtimeFile = join(scratch, "runtime.yaml");
    writeFileSync(runtimeFile, JSON.stringify({ edge: { tenants: config.edge.tenants } }));
    Object.assign(config, { runtime_config: { file: runtimeFile, period: 0 } });
    writeFileSync(join(scratch, "edge.yaml"), JSON.stringify(config));
    fairgate = spawn(process.execPath, ["--import", "tsx", MAIN, "edge", "--config", join(scratch, "edge.yaml")], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const out of [fairgate.stdout!, fairgate.stderr!]) out.on("data", (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 90_000;
    while (!output.includes(`listening on ${url} with 2 workers, admin on ${admin}`)) {
      if (Date.now() > deadline || fairgate.exitCode !== null) throw new Error(`fairgate did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    for (const answer of held) answer();
    if (fairgate?.pid && groupAlive()) process.kill(-fairgate.pid, "SIGKILL"); // a failed test leaves nothing
    rmSync(scratch, { recursive: true, force: true });
    upstream?.closeAllConnections();
    upstream?.close();
    await jwks?.close();
  });

  it("answers from both workers and adds up their metrics on the one admin listener", async () => {
    const headers = { authorization: `Bearer ${await jwks.sign({ tenants: ["team-a"] })}` };
    for (let i = 0; i < 10; i++)
      expect((await getOnNewConnection(`${url}/loki/api/v1/query?query=x`, headers)).status).toBe(200);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^fairgate_workers 2$/m);
    expect(metrics).toMatch(/^fairgate_requests_total\{route="loki:query",status="200",tenant="team-a"\} 10$/m);
    expect(await (await fetch(`${admin}/ready`)).text()).toBe("ready\n");
    const status = await fetch(`${admin}/status`);
    expect(status.status).toBe(404);
    expect(await status.text()).toContain("not served with server.workers above 1");
  });

  it("SIGHUP to the primary: every worker reloads the runtime file; a broken one is refused by each", async () => {
    const headers = { authorization: `Bearer ${await jwks.sign({ tenants: ["team-a"] })}`, "x-scope-orgid": "team-b" };
    const statuses = async () => {
      const seen: number[] = [];
      for (let i = 0; i < 6; i++)
        seen.push((await getOnNewConnection(`${url}/loki/api/v1/query?query=x`, headers)).status);
      return seen;
    };
    expect(await statuses()).toEqual([403, 403, 403, 403, 403, 403]);
    const grantB = { claim: "tenants", values: ["team-a"], read: ["team-b"] };
    writeFileSync(
      runtimeFile,
      JSON.stringify({ edge: { tenants: { rules: [{ claim: "tenants", read: ["$value"] }, grantB] } } }),
    );
    fairgate.kill("SIGHUP");
    const count = (text: string) => output.split(text).length - 1;
    await expect.poll(() => count(`SIGHUP: reloaded runtime config ${runtimeFile} (edge.tenants)`)).toBe(2);
    expect(await statuses()).toEqual([200, 200, 200, 200, 200, 200]);

    writeFileSync(runtimeFile, "edge: { tenants: { rules: [{ claim: tenants, read: [$value], federate: maybe }] } }");
    fairgate.kill("SIGHUP");
    await expect.poll(() => count("; the one in force stays")).toBe(2);
    expect(output).toContain("edge.tenants.rules[0].federate: ");
    expect(await statuses()).toEqual([200, 200, 200, 200, 200, 200]);
    // The primary's /metrics: the lowest of the workers' (0 when any refused its file).
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^fairgate_runtime_config_last_reload_successful 0$/m);

    // Back to the rules the next test expects (one tenant per token: no X-Scope-OrgID needed).
    writeFileSync(
      runtimeFile,
      JSON.stringify({ edge: { tenants: { rules: [{ claim: "tenants", read: ["$value"] }] } } }),
    );
    fairgate.kill("SIGHUP");
    await expect.poll(() => count(`SIGHUP: reloaded runtime config ${runtimeFile} (edge.tenants)`)).toBe(4);
  });

  it("drains every worker on SIGTERM to the primary, then exits 0 with nothing left running", async () => {
    const headers = { authorization: `Bearer ${await jwks.sign({ tenants: ["team-a"] })}` };
    const inFlight = getOnNewConnection(`${url}/loki/api/v1/query?query=slow`, headers);
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(1);
    const exited = new Promise<number | null>((r) => fairgate.once("exit", (code) => r(code)));
    fairgate.kill("SIGTERM"); // to the primary alone, as a service manager sends it
    await expect.poll(() => output, { timeout: 10_000 }).toMatch(/(SIGTERM: draining[\s\S]*){3}/);
    held.shift()!();
    expect(await inFlight).toEqual({ status: 200, body: '{"status":"success"}' });
    expect(await exited).toBe(0);
    await expect.poll(groupAlive, { timeout: 10_000 }).toBe(false);
  });
});

describe("server.workers above 1", () => {
  it("is refused for the frontend, whose fair queue lives in one process", async () => {
    const config = parseConfig({
      server: { listen: "127.0.0.1:0", workers: 2 },
      frontend: { queriers: [{ url: "http://127.0.0.1:9" }] },
    });
    await expect(run(config, "frontend")).rejects.toThrow(
      "server.workers: above 1 only for `fairgate edge` (the frontend's fair queue lives in one process), not frontend",
    );
  });
});
