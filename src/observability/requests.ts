import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type pino from "pino";
import type { Logger } from "pino";
import { Counter, Histogram, Registry } from "prom-client";
import { createLogger } from "./log.js";

/**
 * What the edge and the frontend tell about a request, for its log line and metrics. Never tokens or raw identities.
 */
export interface RequestFields {
  tenant?: string;
  /** The actor path: already a keyed hash of the user. */
  actor?: string;
  route?: string;
  auth_failure?: string;
  splits?: number;
  cache?: string;
  queue_wait_ms?: number;
  querier_ms?: number;
  [k: string]: unknown;
}

export interface RequestLogOptions {
  level: string;
  slowQueryMs: number;
  destination?: pino.DestinationStream;
}

/** A bounded route label: the API route with names and IDs taken out. */
export function routeLabel(path: string): string {
  const m = /^(?:\/loki|\/prometheus)?\/api\/v1\/(.+)$/.exec(path) ?? /^\/(otlp\/v1\/\w+)$/.exec(path);
  if (!m)
    return path.startsWith("/fairgate/api/v1/async/")
      ? "async"
      : ["/healthz", "/ready", "/metrics", "/status"].includes(path)
        ? path.slice(1)
        : "other";
  const api = path.startsWith("/loki/") ? "loki" : "prom";
  const route = m[1]!
    .replace(/^label\/[^/]+\/values$/, "label_values")
    .replace(/^detected_field\/[^/]+\/values$/, "detected_field_values");
  return /^[a-z_/]+$/.test(route) ? `${api}:${route}` : `${api}:other`;
}

/**
 * One structured log line per request (pino), a slow-query line above a threshold, and request
 * metrics. Fields come from the edge and the frontend through `observe`, which writes into the
 * current request's store (AsyncLocalStorage), so neither needs to know about logging.
 */
export class RequestLog {
  readonly logger: Logger;
  readonly registry = new Registry();
  readonly #als = new AsyncLocalStorage<RequestFields>();
  readonly #requests = new Counter({
    name: "fairgate_requests_total",
    help: "HTTP requests by route, status and tenant.",
    labelNames: ["route", "status", "tenant"],
    registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: "fairgate_request_duration_seconds",
    help: "HTTP request latency by route.",
    labelNames: ["route"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly #authFailures = new Counter({
    name: "fairgate_auth_failures_total",
    help: "Requests refused by the edge, by reason.",
    labelNames: ["reason"],
    registers: [this.registry],
  });

  /**
   * Requests answered so far by status class (1xx…5xx), probes and demo traffic left out:
   * the status page charts their rates.
   */
  readonly byStatusClass = new Map<string, number>();

  constructor(readonly opts: RequestLogOptions) {
    this.logger = createLogger(opts.level, opts.destination);
  }

  readonly observe = (fields: RequestFields): void => {
    const store = this.#als.getStore();
    if (store) Object.assign(store, fields);
  };

  middleware(): MiddlewareHandler {
    return async (c, next) => {
      const fields: RequestFields = {};
      const started = performance.now();
      await this.#als.run(fields, next);
      const answered = { method: c.req.method, path: c.req.path, status: c.res.status };
      this.record({ ...answered, ms: performance.now() - started, requestId: c.req.header("x-request-id") }, fields);
    };
  }

  // Metric children by label values: prom-client hashes a label object on every call otherwise.
  readonly #children = new Map<string, { count: () => void; time: (seconds: number) => void }>();
  #metricsFor(route: string, status: number, tenant: string) {
    const key = `${route}\n${status}\n${tenant}`;
    let child = this.#children.get(key);
    if (!child) {
      const counter = this.#requests.labels(route, String(status), tenant);
      const histogram = this.#duration.labels(route);
      child = { count: () => counter.inc(), time: (seconds) => histogram.observe(seconds) };
      if (this.#children.size < 10_000) this.#children.set(key, child);
    }
    return child;
  }

  /** The log line and metrics of one answered request (the middleware's, or a server's that is not Hono). */
  record(req: AnsweredRequest, fields: RequestFields): void {
    const { status, ms, path } = req;
    const route = routeLabel(path);
    const metrics = this.#metricsFor(route, status, fields.tenant ?? "");
    metrics.count();
    metrics.time(ms / 1000);
    if (fields.auth_failure) this.#authFailures.inc({ reason: authReason(fields.auth_failure) });
    // Probes and the demo's own traffic would drown the lines people read.
    const routine = route === "healthz" || route === "ready" || path === "/-/ready" || path.startsWith("/demo/");
    if (!routine) {
      const cls = `${Math.floor(status / 100)}xx`;
      this.byStatusClass.set(cls, (this.byStatusClass.get(cls) ?? 0) + 1);
    }
    const level = status >= 500 ? "error" : routine ? "debug" : "info";
    const slow = ms >= this.opts.slowQueryMs && route !== "other";
    // The line (and its random request ID) is only built when it is written.
    if (!this.logger.isLevelEnabled(level) && !(slow && this.logger.isLevelEnabled("warn"))) return;
    const line = {
      request_id: req.requestId?.slice(0, 64) ?? randomBytes(8).toString("hex"),
      method: req.method,
      route,
      status,
      duration_ms: Math.round(ms),
      ...fields,
    };
    this.logger[level](line, "request");
    if (slow) this.logger.warn({ ...line, slow_query_threshold_ms: this.opts.slowQueryMs }, "slow query");
  }
}

export interface AnsweredRequest {
  method: string;
  path: string;
  status: number;
  ms: number;
  /** The client's X-Request-ID, if it sent one. */
  requestId?: string | null;
}

/** The reason label for an authentication failure, from the edge's error description (bounded set). */
export function authReason(description: string): string {
  const known = [
    "expired",
    "not yet valid",
    "audience",
    "issuer",
    "kid",
    "signature",
    "algorithm",
    "malformed",
    "larger than",
    "no sub",
    "no exp",
    "another subject",
    "required",
    "tenant",
    "unreachable",
  ];
  const hit = known.find((k) => description.includes(k));
  return hit ? hit.replace(/ /g, "_") : "other";
}
