import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, type Supervised, startSupervised } from "./supervised.js";
import type { Identity } from "../../src/identity/signed-identity.js";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A `fairgate frontend` process among replicas (frontend.membership), with its admin listener. */
/** A user of `tenant` as the edge would sign it, for calls straight to a replica. */
export const person = (tenant: string, user: string): Identity => ({
  subject: `${user}-hash`,
  tenants: [tenant],
  actorPath: `users|${user}`,
  scopes: [],
});

export interface Replica {
  id: string;
  url: string;
  admin: string;
  proc: Supervised;
}

export interface ReplicaOptions {
  id: string;
  natsUrl: string;
  /** NATS names (the membership bucket is PREFIX_members): replicas with the same prefix see each other. */
  prefix: string;
  /** Verifies the identities the caller signs (identity.secret). */
  identitySecret: string;
  /** frontend's settings; `membership` is added. */
  frontend: Record<string, unknown>;
  heartbeatMs: number;
  timeoutMs: number;
  scratch: string;
  /** Logged at this level (default warn: the cluster's lines are warnings). */
  logLevel?: string;
}

/** Waits for `ok`, polling; throws with `explain()` after `timeoutMs`. */
export async function until(
  ok: () => boolean | Promise<boolean>,
  timeoutMs: number,
  explain: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms:\n${explain()}`);
    await sleep(25);
  }
}

/** Starts a replica as bin/fairgate.js would, and waits until it listens. */
export async function startReplica(o: ReplicaOptions): Promise<Replica> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  const config = {
    server: { listen: `127.0.0.1:${port}`, admin_listen: `127.0.0.1:${adminPort}` },
    identity: { secret: o.identitySecret },
    log: { level: o.logLevel ?? "warn" },
    nats: { servers: [o.natsUrl], prefix: o.prefix, timeout: "1s" },
    frontend: {
      ...o.frontend,
      membership: {
        replica_id: o.id,
        advertise_url: url,
        heartbeat: `${o.heartbeatMs}ms`,
        timeout: `${o.timeoutMs}ms`,
        secret: "m".repeat(24),
      },
    },
  };
  mkdirSync(o.scratch, { recursive: true });
  const file = join(o.scratch, `${o.prefix}-${o.id}.yaml`);
  writeFileSync(file, JSON.stringify(config)); // YAML is a superset of JSON
  const proc = startSupervised({
    command: process.execPath,
    args: ["--import", "tsx", MAIN, "frontend", "--config", file],
    scratch: join(o.scratch, `run-${o.prefix}-${o.id}`),
  });
  await until(() => proc.output().includes(`listening on ${url}`), 30_000, proc.output);
  return { id: o.id, url, admin: `http://127.0.0.1:${adminPort}`, proc };
}

/** What a replica's status data says of the cluster and its queriers. */
export async function replicaStatus(r: Replica) {
  return (await (await fetch(`${r.admin}/debug/status`)).json()) as {
    cluster: { live: { id: string }[] } | null;
    queriers: { maxConcurrent: number }[];
  };
}

/** The live replicas' IDs as `r` sees them. */
export const liveOf = async (r: Replica) => ((await replicaStatus(r)).cluster?.live ?? []).map((m) => m.id);

/** Waits until each of `replicas` sees exactly them live. */
export const allSee = (replicas: Replica[], timeoutMs = 15_000) => {
  const ids = replicas.map((r) => r.id).sort();
  return until(
    async () => {
      for (const r of replicas) if ((await liveOf(r)).join() !== ids.join()) return false;
      return true;
    },
    timeoutMs,
    () => replicas.map((r) => r.proc.output()).join("\n"),
  );
};
