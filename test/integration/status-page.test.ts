import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { identitySigner, IDENTITY_HEADER, type Identity } from "../../src/identity/signed-identity.js";
import { run, type Running } from "../../src/node/run.js";
import { edgeConfig, IDENTITY_SECRET } from "../support/edge-config.js";

// The operators' status page (GET /status on the admin listener) in a real headless Chromium:
// fairgate runs as a frontend (signed identities, as from a separate edge) in front of a querier
// that holds every query until the test releases it, so sub-queries are really queued and in
// flight while the page is looked at. Tenant names and actor paths are hostile HTML: the page must
// show them as text and run none of it.

const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const ARTIFACTS = fileURLToPath(new URL("../.artifacts/", import.meta.url));
const DAY = 86_400;
const HOSTILE_TENANT = `<img src=x onerror="window.__pwned='tenant'">`;
const HOSTILE_ACTOR = `users|<script>window.__pwned='actor'</script>`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await sleep(100);
  }
}

/** A querier that answers health checks at once and holds every query until release(). */
async function startHeldQuerier() {
  let holding = true;
  const held = new Set<ServerResponse>();
  const answer = (res: ServerResponse) =>
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ status: "success", data: { resultType: "matrix", result: [] } }));
  const server = createServer((req, res) => {
    req.resume();
    if (req.url?.endsWith("/ready")) return void res.end("ready");
    if (!holding) return answer(res);
    held.add(res);
    res.on("close", () => held.delete(res));
  });
  await once(server.listen(0, "127.0.0.1"), "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held.size,
    release() {
      holding = false;
      for (const res of held) answer(res);
      held.clear();
    },
    async close() {
      const closed = once(server.close(), "close");
      server.closeAllConnections();
      await closed;
    },
  };
}

/** A loopback URL nothing listens on: a querier that is down. */
async function deadUrl(): Promise<string> {
  const s = createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

/** Chromium with a profile of its own, removed on close. Fails (never skips) without the binary. */
async function openChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: the status page is tested in a real Chromium. ` +
        "Install the Debian package (apt-get install chromium); npm test does when run as root.",
    );
  const profile = mkdtempSync(join(tmpdir(), "fairgate-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

interface QueueRow {
  depth: number;
  node: string;
  queued: number;
  inflight: number;
}

/** The queue table as the page shows it. */
const queueRows = (page: Page): Promise<QueueRow[]> =>
  page.locator("#queue-body tr").evaluateAll((trs) =>
    trs.map((tr) => ({
      depth: Number((tr as HTMLElement).dataset.depth),
      node: tr.querySelector('[data-col="node"]')?.textContent ?? "",
      queued: Number(tr.querySelector('[data-col="queued"]')?.textContent?.replace(/\D/g, "")),
      inflight: Number(tr.querySelector('[data-col="inflight"]')?.textContent?.replace(/\D/g, "")),
    })),
  );

interface ActorRow {
  tenant: string;
  actor: string;
  queued: number;
  inflight: number;
  querierTime: string;
  ran: number;
  lastActive: string;
}

/** The recent actors table as the page shows it. */
const actorRows = (page: Page): Promise<ActorRow[]> =>
  page.locator("#actors-body tr").evaluateAll((trs) =>
    trs.map((tr) => {
      const col = (name: string) => tr.querySelector(`[data-col="${name}"]`)?.textContent ?? "";
      return {
        tenant: col("tenant"),
        actor: col("actor"),
        queued: Number(col("queued").replace(/\D/g, "")),
        inflight: Number(col("inflight").replace(/\D/g, "")),
        querierTime: col("querier-time"),
        ran: Number(col("ran").replace(/\D/g, "")),
        lastActive: col("last-active"),
      };
    }),
  );

/** Non-zero points the page has for a chart (it says so on the chart's element). */
const chartPoints = async (page: Page, chart: string) =>
  Number(await page.locator(`#chart-${chart}`).getAttribute("data-points"));

/** Pixels the chart's canvas has painted: a chart that drew nothing has none. */
const paintedPixels = (page: Page, chart: string) =>
  page.locator(`#chart-${chart} canvas`).evaluate((canvas) => {
    const c = canvas as HTMLCanvasElement;
    const data = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
    return n;
  });

const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? "").trim();

describe("status page (/status on the admin listener) in Chromium", () => {
  // Opened by the first test that needs it, so that a missing Chromium fails each test, not a hook.
  let browser: Promise<Awaited<ReturnType<typeof openChromium>>> | undefined;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeAll(() => void mkdirSync(ARTIFACTS, { recursive: true }));
  afterAll(async () => {
    for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
    await (await browser?.catch(() => undefined))?.close();
  });

  const context = async () => (await (browser ??= openChromium())).context;

  /** A page with everything it logs as an error collected: a CSP violation or a script error fails the test. */
  async function openPage(url: string): Promise<{ page: Page; errors: string[] }> {
    const page = await (await context()).newPage();
    const errors: string[] = [];
    page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
    page.on("pageerror", (e) => errors.push(String(e)));
    const res = await page.goto(url);
    expect(res?.status()).toBe(200);
    expect(res?.headers()["content-security-policy"]).toMatch(/script-src 'self' 'sha256-/);
    return { page, errors };
  }

  it("shows queued and in-flight sub-queries per tenant and actor, queriers, cache and async jobs, live", async () => {
    await context(); // fails at once without Chromium
    const querier = await startHeldQuerier();
    cleanup.push(() => querier.close());
    const down = await deadUrl();
    const config = parseConfig({
      server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" },
      log: { level: "error" },
      // Charts get their points sooner; the page itself polls every second.
      // With the actor directory on, the names the edge signs into identities are shown next to the hashes.
      status: { sample_every: "250ms", actor_directory: { enabled: true } },
      identity: { secret: IDENTITY_SECRET },
      frontend: {
        queriers: [
          { url: querier.url, max_concurrent: 1, idle_actor_slots: 0 }, // counts below are exact
          { url: down, max_concurrent: 1, idle_actor_slots: 0 },
        ],
        health_check: { interval: "1s", timeout: "500ms", unhealthy_after: 1 },
        retries: 1,
        // One piece of each query in the queue at a time: the others are held back inside the query.
        limits: { max_query_parallelism: 1 },
      },
    });
    const gw: Running = await run(config, "frontend");
    cleanup.push(() => gw.close(0));
    const admin = gw.adminUrl!;

    // Wait for the health check to take the dead querier out, so that every sub-query goes to the held one.
    await until(async () => {
      const s = (await (await fetch(`${admin}/debug/status`)).json()) as {
        queriers: { url: string; healthy: boolean }[];
      };
      return s.queriers.find((q) => q.url === down)?.healthy === false;
    }, "the dead querier to be marked unhealthy");

    const sign = await identitySigner(config.identity!);
    const alice: Identity = {
      subject: "s-alice",
      tenants: ["team-a"],
      actorPath: "users|5f0c2a9e1b7d4c3a8e6f0b1d2c3e4f5a",
      scopes: [],
      who: { id: "alice", claim: "alice@example.com" },
    };
    const mallory: Identity = {
      subject: "s-mallory",
      tenants: [HOSTILE_TENANT],
      actorPath: HOSTILE_ACTOR,
      scopes: [],
      who: { id: HOSTILE_TENANT },
    };
    // Two whole days a week ago: two one-day pieces, old enough to be cached.
    const start = Math.floor(Date.now() / 1000 / DAY) * DAY - 7 * DAY;
    const query = (who: Identity, extra = "") =>
      sign(who).then((jws) =>
        fetch(`${gw.url}/api/v1/query_range?query=up&start=${start}&end=${start + 2 * DAY - 60}&step=60${extra}`, {
          headers: { [IDENTITY_HEADER]: jws },
        }),
      );

    const pending = [query(alice), query(mallory)];
    for (const p of pending) p.catch(() => {}); // awaited below; a failure before then must not go unhandled
    const ticket = await query(alice, "&async=true");
    expect(ticket.status).toBe(202);
    await until(async () => querier.held() === 1, "a sub-query to reach the querier");

    const { page, errors } = await openPage(`${admin}/status`);
    expect(await page.title()).toBe("fairgate status");
    // Six pieces, two per query: one runs on the only healthy querier (one slot), two wait in the queue,
    // and each query holds its second piece back (max_query_parallelism: 1).
    const rows = await until(async () => {
      const r = await queueRows(page);
      const tenants = r.filter((x) => x.depth === 0);
      return (await text(page, "#glance-waiting")) === "2" && tenants.reduce((n, t) => n + t.inflight, 0) === 1
        ? r
        : undefined;
    }, "the page to show 2 queued and 1 in flight");
    expect(await text(page, "#glance-held")).toBe("3");
    expect(await text(page, "#glance-all")).toBe("6");
    expect(await text(page, "#max-parallelism")).toBe("1");
    const teamA = rows.find((r) => r.depth === 0 && r.node === "team-a")!;
    expect(teamA.queued + teamA.inflight).toBe(2); // a piece of the query, a piece of the async job
    expect(rows).toContainEqual(expect.objectContaining({ depth: 2, node: alice.actorPath, queued: teamA.queued }));
    // Hostile names are shown as the text they are, and nothing in them ran.
    const hostile = rows.find((r) => r.depth === 0 && r.node === HOSTILE_TENANT);
    expect(hostile).toBeDefined();
    expect(hostile!.queued + hostile!.inflight).toBe(1);
    expect(rows.map((r) => r.node)).toContain(HOSTILE_ACTOR);
    expect(await page.evaluate("window.__pwned")).toBeUndefined();
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.locator("script").count()).toBe(2); // the chart library and the page's own

    // Queriers: the held one busy and healthy, the dead one unhealthy with its error.
    const querierRow = (url: string) =>
      page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: url, exact: true }) });
    await until(
      async () => (await querierRow(querier.url).textContent())?.includes("1 of 1"),
      "the held querier's slot to show as used",
    );
    expect(await querierRow(querier.url).textContent()).toContain("healthy");
    expect(await querierRow(down).textContent()).toMatch(/unhealthy.*ECONNREFUSED/);
    expect(await text(page, "#glance-queriers")).toBe("1 of 2");
    // The async job runs on this replica.
    expect(await text(page, "#async-running")).toBe("1 query (1 running)");
    expect(await page.locator("#async-body tr").count()).toBe(1);
    expect(await text(page, "#connection")).toMatch(/^Live/);
    await page.screenshot({ path: join(ARTIFACTS, "status.png"), fullPage: true });

    // Released: everything is answered, the page follows.
    querier.release();
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([200, 200]);
    await until(
      async () =>
        (await text(page, "#glance-waiting")) === "0" &&
        (await page.locator("#queue-empty").isVisible()) &&
        (await text(page, "#async-running")) === "none",
      "the page to show an empty queue",
    );
    expect(await queueRows(page)).toEqual([]);
    expect(await page.locator("#async-empty").isVisible()).toBe(true);
    // The cache section shows the frontend's own counters (what they count is tested with the cache).
    expect((await query(alice)).status).toBe(200); // the same query again: from the cache
    const { cache } = (await (await fetch(`${admin}/debug/status`)).json()) as {
      cache: { hits: number; partial: number; misses: number };
    };
    const total = cache.hits + cache.partial + cache.misses;
    expect(cache.misses).toBeGreaterThan(0);
    const share = (n: number) => `${((100 * n) / total).toFixed(1)} %`;
    await until(
      async () => (await text(page, "#cache-ratio")) === share(cache.hits),
      `the page to show a hit ratio of ${share(cache.hits)}`,
    );
    expect((await page.locator("#cache-body").innerText()).split(/\s+/).join(" ")).toBe(
      `Hits ${cache.hits} ${share(cache.hits)} Partial hits ${cache.partial} ${share(cache.partial)} ` +
        `Misses ${cache.misses} ${share(cache.misses)} All pieces ${total} 100.0 %`,
    );

    // Finished actors stay on the page, with what they used.
    const actors = await until(async () => {
      const r = await actorRows(page);
      const a = r.find((x) => x.tenant === "team-a");
      return a && a.ran >= 4 && a.lastActive !== "running now" ? r : undefined;
    }, "alice to be listed as a recent actor with her sub-queries");
    const aliceRow = actors.find((r) => r.tenant === "team-a")!;
    expect(aliceRow).toMatchObject({
      actor: `${alice.actorPath} \u2014 alice (alice@example.com)`,
      queued: 0,
      inflight: 0,
    });
    expect(aliceRow.querierTime).toMatch(/\d (ms|s)$/);
    expect(actors).toContainEqual(
      expect.objectContaining({ tenant: HOSTILE_TENANT, actor: `${HOSTILE_ACTOR} \u2014 ${HOSTILE_TENANT}`, ran: 2 }),
    );
    expect((await page.locator("#tenants-body").innerText()).includes(HOSTILE_TENANT)).toBe(true);

    // The charts have data and drew it.
    for (const chart of ["busy", "queue", "wait", "requests", "cache"])
      await until(async () => (await chartPoints(page, chart)) > 0, `the ${chart} chart to have points`);
    for (const chart of ["busy", "queue", "wait", "requests", "cache"])
      expect(await paintedPixels(page, chart), `pixels painted in the ${chart} chart`).toBeGreaterThan(500);
    // Who used the queriers: both tenants in the stacked chart's legend, hostile name as text.
    const legend = page.locator("#chart-busy .u-legend");
    expect(await legend.innerText()).toContain("team-a");
    expect(await legend.innerText()).toContain(HOSTILE_TENANT);
    // Broken down by actor within team-a: alice's actor path is a series of its own.
    await page.locator("#busy-tenant").selectOption({ label: "team-a, by actor" });
    await until(async () => (await chartPoints(page, "busy")) > 0, "the busy chart to show team-a's actors");
    expect(await legend.innerText()).toContain(alice.actorPath);
    await page.locator("#busy-tenant").selectOption({ label: `${HOSTILE_TENANT}, by actor` });
    await until(
      async () => (await legend.innerText()).includes(HOSTILE_ACTOR),
      "the busy chart to show the hostile actor path as text",
    );
    await page.locator("#busy-tenant").selectOption({ label: "all tenants, by tenant" });
    await until(async () => (await chartPoints(page, "busy")) > 0, "the busy chart to show tenants again");
    expect(await page.evaluate("window.__pwned")).toBeUndefined();
    expect(await page.locator("img").count()).toBe(0);
    expect(await text(page, "#version")).toMatch(/^\d+\.\d+\.\d+/);
    expect(await text(page, "#uptime")).toMatch(/^\d+ (s|min)/);
    await page.screenshot({ path: join(ARTIFACTS, "status-released.png"), fullPage: true });
    expect(errors).toEqual([]);
  }, 90_000); // a browser session through several phases of real traffic, on a machine that may be busy

  it("says there is no frontend when the process runs the edge alone, and that its runtime file was refused", async () => {
    await context();
    const { edge, identity } = edgeConfig({ issuer: "http://127.0.0.1:9/unused-issuer" }, "http://127.0.0.1:9");
    const dir = mkdtempSync(join(tmpdir(), "fairgate-status-runtime-"));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const runtimeFile = join(dir, "runtime.yaml");
    writeFileSync(runtimeFile, JSON.stringify({ edge: { tenants: edge.tenants } }));
    const gw = await run(
      parseConfig({
        server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" },
        log: { level: "error" },
        runtime_config: { file: runtimeFile, period: 0 },
        edge,
        identity,
      }),
      "edge",
    );
    cleanup.push(() => gw.close(0));
    writeFileSync(runtimeFile, "edge: { tenants: { rules: [] } }");
    expect(gw.reload()[0]!.ok).toBe(false);
    expect((await fetch(`${gw.adminUrl}/debug/status`)).status).toBe(404);
    const { page, errors } = await openPage(`${gw.adminUrl}/status`);
    await page.getByRole("heading", { name: "No query frontend" }).waitFor();
    expect(await page.locator("#frontend").isHidden()).toBe(true);
    // The edge's own traffic is charted: a request without a token is refused (4xx).
    expect((await fetch(`${gw.url}/loki/api/v1/query?query=up`)).status).toBe(401);
    await until(async () => (await chartPoints(page, "requests")) > 0, "the requests chart to show the refusal");
    expect(await page.locator("#chart-requests .u-legend").innerText()).toContain("4xx");
    expect(await page.locator("#chart-busy").isHidden()).toBe(true);
    // The refused runtime file, under the title, and the one in force.
    await until(async () => (await text(page, "#runtime-config")).includes("refused"), "the runtime file's refusal");
    expect(await text(page, "#runtime-config")).toMatch(
      new RegExp(
        `^Runtime config ${runtimeFile} refused: edge\\.tenants\\.rules: add at least one rule.* stays in force\\.$`,
      ),
    );
    await page.screenshot({ path: join(ARTIFACTS, "status-edge.png"), fullPage: true });
    expect(errors).toEqual([]);
  });
});
