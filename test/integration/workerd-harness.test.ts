// Self-test of test/support/workerd.ts: a Worker runs in real workerd, sees its vars (multi-line too),
// reaches loopback servers with fetch, passes WebSocket upgrades through, and close() leaves no process.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startEchoUpstream, type EchoUpstream } from "../support/echo-upstream.js";
import { startWorker, type WorkerdHandle } from "../support/workerd.js";

const FIXTURE = "test/support/fixtures/wrangler.toml";
const MULTI_LINE =
  'edge:\n  issuers:\n    - issuer: "http://x:1/realms/a"\n  note: colons: and "quotes" and \'single\' and $dollars\n';

/**
 * Pids of the processes of group pgid that still run (zombies, dead and waiting for init to reap them, do not count).
 */
function groupPids(pgid: number): string[] {
  const out = execFileSync("ps", ["-eo", "pid=,pgid=,stat="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] === String(pgid) && !f[2]?.startsWith("Z"))
    .map((f) => f[0]!);
}

describe("workerd harness (fixture worker)", () => {
  let upstream: EchoUpstream;
  let worker: WorkerdHandle;
  let startedInMs = 0;

  beforeAll(async () => {
    upstream = await startEchoUpstream();
    const t0 = Date.now();
    worker = await startWorker({
      config: FIXTURE,
      vars: { MULTI_LINE, OVERRIDDEN: "test", TARGET: `${upstream.url}/from-var`, EMPTY: "" },
    });
    startedInMs = Date.now() - t0;
  });
  afterAll(async () => {
    await worker?.close();
    await upstream?.close();
  });

  it("listens on loopback and starts within a few seconds", () => {
    expect(worker.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(startedInMs).toBeLessThan(15_000);
  });

  it("passes vars exactly, overriding the config's [vars]", async () => {
    const get = async (name: string) => {
      const res = await fetch(`${worker.url}/var?name=${name}`);
      return [res.status, await res.text()] as const;
    };
    expect(await get("MULTI_LINE")).toEqual([200, MULTI_LINE]);
    expect(await get("OVERRIDDEN")).toEqual([200, "test"]);
    expect(await get("FROM_TOML")).toEqual([200, "toml"]);
    expect(await get("EMPTY")).toEqual([200, ""]);
    expect(await get("PATH")).toEqual([404, "unset"]); // the test process's environment does not leak in
  });

  it("reaches a loopback server with fetch from inside workerd", async () => {
    const res = await fetch(`${worker.url}/fetch`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: number; body: string };
    expect(body.status).toBe(200);
    expect(JSON.parse(body.body).data.echo.url).toBe("/from-var");
    expect(upstream.requests.at(-1)?.headers["x-from"]).toBe("workerd");
  });

  it("passes a WebSocket upgrade through to a loopback upstream", async () => {
    const ws = new WebSocket(
      `${worker.url.replace("http", "ws")}/ws?url=${encodeURIComponent(`${upstream.url}/socket`)}`,
      {
        headers: { "x-scope-orgid": "team-a" },
      },
    );
    const messages: string[] = [];
    const waiters: Array<() => void> = [];
    ws.on("message", (d) => {
      messages.push(d.toString());
      for (const w of waiters.splice(0)) w();
    });
    const got = async (n: number) => {
      while (messages.length < n) await new Promise<void>((r) => waiters.push(r));
    };
    await new Promise<void>((resolve, reject) => ws.once("open", () => resolve()).once("error", reject));
    await got(1);
    ws.send("ping");
    await got(2);
    ws.close();
    expect(messages).toEqual(["hello team-a", "echo:ping"]);
    expect(upstream.upgrades.at(-1)?.url).toBe("/socket");
  });

  it("captures the Worker's output", async () => {
    await fetch(`${worker.url}/var?name=OVERRIDDEN`);
    await new Promise((r) => setTimeout(r, 200));
    expect(worker.logs()).toMatch(/GET \/var/);
  });
});

describe("workerd harness (real edge entry)", () => {
  it("bundles src/edge/cloudflare-worker.ts, runs it in workerd, and answers 500 on a broken config", async () => {
    const worker = await startWorker({ vars: { FAIRGATE_CONFIG: "edge:\n  issuers: not-a-list\n" } });
    try {
      const res = await fetch(`${worker.url}/loki/api/v1/labels`);
      expect(res.status).toBe(500);
      expect(await res.text()).toContain("misconfigured");
      // The Worker's console.error (wrangler prints it as [ERROR], on stderr) and the request log
      // (stdout) both reach logs(), in no fixed order and not at once under load.
      await expect.poll(() => worker.logs(), { timeout: 10_000 }).toContain("[ERROR]");
      await expect.poll(() => worker.logs(), { timeout: 10_000 }).toContain("GET /loki/api/v1/labels 500");
    } finally {
      await worker.close();
    }
  });

  it("close() leaves no process behind", async () => {
    const worker = await startWorker({ config: FIXTURE, vars: {} });
    const pids = groupPids(worker.pid);
    expect(pids.length).toBeGreaterThanOrEqual(4); // watchdog, wrangler, workerd x2 (+ esbuild)
    await worker.close();
    expect(groupPids(worker.pid)).toEqual([]);
    await worker.close(); // idempotent
  });
});
