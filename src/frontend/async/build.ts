import type { FrontendConfig } from "../../config/schema.js";
import { ackWaitOf } from "./jobs.js";
import { MemoryJobStore } from "./memory-store.js";
import { NatsJobStore } from "./nats-store.js";
import type { JobStore } from "./store.js";

/** The configured async store. Records and answers outlive no job by more than its deadline and keep_alive. */
export function buildJobStore(opts: FrontendConfig["async"], log: (line: string) => void): JobStore {
  const maxAgeMs = opts.deadline + opts.keep_alive;
  return opts.store === "nats"
    ? new NatsJobStore(opts.nats!, maxAgeMs, ackWaitOf(opts), log)
    : new MemoryJobStore(maxAgeMs);
}
