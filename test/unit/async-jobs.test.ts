import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { AsyncJobs, type JobRecord } from "../../src/frontend/async/jobs.js";
import { MemoryCache } from "../../src/frontend/cache/memory.js";
import { StoredValues } from "../../src/frontend/cache/stored.js";

const opts = parseConfig({ frontend: { queriers: [{ url: "http://q" }], async: { heartbeat: "1s" } } }).frontend!.async;
const alice = { subject: "alice-hash", tenants: ["team-a"], actorPath: "users|a", scopes: [] };

describe("asynchronous jobs", () => {
  it("reports a job whose frontend crashed (heartbeat stale) as failed, asking to resubmit", async () => {
    const store = new StoredValues(new MemoryCache(1 << 20), 1 << 20);
    let now = 1_000_000;
    const jobs = new AsyncJobs(store, opts, () => now);
    // A record left behind by a frontend that died without a word: "running", last heartbeat long ago.
    const record: JobRecord = {
      id: "job-1",
      tenants: ["team-a"],
      subject: "alice-hash",
      actorPath: "users|a",
      state: "running",
      progress: { splitsDone: 1, splitsTotal: 4 },
      submittedAt: now,
      startedAt: now,
      expiresAt: now + 3_600_000,
      heartbeatAt: now,
    };
    await store.put("aj:job-1", record, 3600);
    now += 2_000; // two heartbeats missed: still within 3 × heartbeat
    expect((await jobs.status("job-1", alice))?.state).toBe("running");
    now += 2_000; // past 3 × heartbeat
    const seen = await jobs.status("job-1", alice);
    expect(seen?.state).toBe("failed");
    expect(seen?.error).toMatch(/stopped .*resubmit/);
    // The verdict is stored: another replica reads the same.
    expect((await new AsyncJobs(store, opts, () => now).status("job-1", alice))?.state).toBe("failed");
    const answer = await jobs.answer("job-1", seen!);
    expect(answer?.status).toBe(500);
    expect(answer?.body).toMatch(/resubmit/);
  });

  it("hides a job from any other identity", async () => {
    const store = new StoredValues(new MemoryCache(1 << 20), 1 << 20);
    const jobs = new AsyncJobs(store, opts);
    const { record, done } = await jobs.submit(
      alice,
      async () => ({ status: 200, contentType: "application/json", body: "{}" }),
      () => ({ status: 500, contentType: "text/plain", body: "x" }),
    );
    await done;
    expect((await jobs.status(record.id, alice))?.state).toBe("done");
    expect(await jobs.status(record.id, { ...alice, subject: "carol-hash" })).toBeUndefined();
    expect(await jobs.status(record.id, { ...alice, tenants: ["team-b"] })).toBeUndefined();
    expect(await jobs.status(record.id, { ...alice, tenants: ["team-a", "team-b"] })).toBeUndefined();
  });
});
