import { type ChildProcess, spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../support/supervised.js";

// Stopping fairgate: SIGTERM or SIGINT drains the requests in flight, then exits 0, whether the
// signal goes to fairgate itself or to `npm start`; another signal later stops it at once.
// All in demo mode (config/fairgate.yaml), where the querier lives in the same process.

const ROOT = new URL("../..", import.meta.url).pathname;
const SOURCES = ["--import", "tsx", "src/main.ts", "all", "--config", "config/fairgate.yaml"];

interface Started {
  child: ChildProcess;
  url: string;
  admin: string;
  output: () => string;
  exited: Promise<number | string>;
}

const started: ChildProcess[] = [];
afterEach(() => {
  // A failed test must not leave fairgate (or npm) running: each runs in a process group of its own.
  for (const child of started.splice(0))
    try {
      // A group that is gone may have given its number to another test's process group by now.
      if (child.exitCode !== null || child.signalCode !== null) continue;
      process.kill(-child.pid!, "SIGKILL");
    } catch {}
});

async function start(command: string, args: string[]): Promise<Started> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, FAIRGATE_PORT: String(port), FAIRGATE_ADMIN_PORT: String(adminPort) },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  started.push(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((r) => child.once("exit", (code, signal) => r(code ?? signal!)));
  await expect.poll(() => out, { timeout: 90_000, interval: 100 }).toContain(`listening on http://127.0.0.1:${port}`);
  return { child, url: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}`, output: () => out, exited };
}

/** Long demo queries (30 days each, split by day, 50 ms per sub-query), each by another step so none is cached. */
async function flood(s: Started, n: number): Promise<Promise<number | "cut off">[]> {
  const token = await (await fetch(`${s.url}/demo/oidc/token?user=carol`)).text();
  const now = Math.floor(Date.now() / 1000);
  const queries = Array.from({ length: n }, (_, i) =>
    fetch(`${s.url}/api/v1/query_range?query=demo&start=${now - 30 * 86400}&end=${now - 3600}&step=${300 + i}`, {
      headers: { authorization: `Bearer ${token}`, "x-scope-orgid": "team-a" },
    }).then(
      async (r) => (await r.arrayBuffer(), r.status),
      () => "cut off" as const,
    ),
  );
  // In flight: the demo querier is working on some of their sub-queries.
  await expect
    .poll(async () => {
      const debug = (await (await fetch(`${s.admin}/debug/queue`)).json()) as { queriers: { inflight: number }[] };
      return debug.queriers.some((q) => q.inflight > 0);
    })
    .toBe(true);
  return queries;
}

/** Nothing of the process group is left, and nobody answers on the port. */
async function goneAll(s: Started): Promise<void> {
  expect(() => process.kill(-s.child.pid!, 0)).toThrow(/ESRCH/);
  await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
}

describe("stopping fairgate", () => {
  it("SIGTERM to fairgate in demo mode: every query in flight is answered, then exit 0", async () => {
    const s = await start(process.execPath, SOURCES);
    const queries = await flood(s, 6);
    s.child.kill("SIGTERM");
    expect(await Promise.all(queries)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(await s.exited).toBe(0);
    expect(s.output()).toContain("SIGTERM: draining");
    await goneAll(s);
  });

  it("a second signal while draining stops it at once", async () => {
    const s = await start(process.execPath, SOURCES);
    const queries = await flood(s, 12); // some seconds of work: still draining when the second signal comes
    s.child.kill("SIGTERM");
    await expect.poll(s.output).toContain("SIGTERM: draining");
    // Load balancers polling the admin listener learn it is going away.
    const ready = await fetch(`${s.admin}/ready`);
    expect([ready.status, await ready.text()]).toEqual([503, "not ready: shutting down\n"]);
    await new Promise((r) => setTimeout(r, 1100)); // later than a duplicate of the first signal could be
    s.child.kill("SIGINT");
    expect(await s.exited).toBe(130);
    expect(s.output()).toContain("SIGINT again: stopping now");
    expect(await Promise.all(queries)).toContain("cut off");
  });

  // npm runs the script in a shell; `exec` in it makes fairgate that process, so npm's forwarded signal reaches it.
  it.each([
    ["SIGTERM to npm", (s: Started) => s.child.kill("SIGTERM")],
    ["Ctrl-C (SIGINT to npm and fairgate, and npm forwards it)", (s: Started) => process.kill(-s.child.pid!, "SIGINT")],
  ])(
    "npm start, %s: queries in flight answered, exit 0, nothing left running",
    async (_, signal) => {
      const s = await start("npm", ["start"]);
      const queries = await flood(s, 6);
      signal(s);
      expect(await Promise.all(queries)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(await s.exited).toBe(0);
      expect(s.output()).toContain(": draining");
      expect(s.output()).not.toContain("stopping now");
      await goneAll(s);
    },
    120_000,
  );
});
