import type { Hono } from "hono";
import type { FrontendConfig, MembershipConfig } from "../../config/schema.js";
import type { ClusterView } from "../../observability/metrics.js";
import type { QuerierPool } from "../dispatch/pool.js";
import type { Handler } from "../types.js";
import { shareOf } from "./budget.js";
import { ownerDispatcher } from "./dispatcher.js";
import { Membership } from "./membership.js";
import { replicaSigner, replicaVerifier } from "./replica-auth.js";
import { subqueryRoute } from "./subquery-route.js";

/**
 * This replica among several: the membership, the querier budget it keeps in step with the live set, the
 * dispatcher that sends each sub-query to its tenant's owner, and the route where the others send theirs.
 */
export class ReplicaSet {
  readonly membership: Membership;
  readonly dispatch: Handler;
  /** The internal sub-query route; mounted before any route policy and identity check. */
  readonly routes: Hono;
  readonly #dispatcher: ReturnType<typeof ownerDispatcher>;
  #draining = false;

  constructor(config: FrontendConfig & { membership: MembershipConfig }, pool: QuerierPool, opts: ReplicaSetOptions) {
    const m = config.membership;
    this.membership = new Membership(m, opts.log);
    const self = this.membership.self.id;
    const signer = replicaSigner(m.secret);
    const verifier = replicaVerifier(m.secret, self);
    // The sub-queries this replica's own queue runs (its tenants'): they make it busy, which keeps its share.
    const run: Handler = (req, ctx) => {
      this.membership.working();
      return pool.dispatch(req, ctx);
    };
    this.membership.trackWork(() => pool.queue.length > 0 || pool.queriers.some((q) => q.inflight > 0));
    this.#dispatcher = ownerDispatcher({
      membership: this.membership,
      local: run,
      sign: async (audience, body) => (await signer)(audience, body),
      log: opts.log,
    });
    this.dispatch = this.#dispatcher;
    this.routes = subqueryRoute({
      live: opts.live ?? (() => config),
      verify: async (token, body) => (await verifier)(token, body),
      run,
      draining: () => this.#draining,
      maxBodyBytes: opts.maxBodyBytes,
      log: opts.log,
    });
    // Each querier's slots shared out among the live replicas, queriers found later included; a shrinking share
    // drains as sub-queries end.
    let members = "";
    this.membership.onChanged((live) => {
      const seats = live.map((r) => ({ id: r.id, busy: r.busy !== false }));
      const borrow = this.membership.mayBorrow;
      pool.shareBy((querier, slots) => shareOf(querier, slots, seats, self, borrow));
      // Logged when replicas come and go, not when shares are lent and taken back.
      const ids = live.map((r) => r.id).join(", ");
      if (ids === members) return;
      members = ids;
      const total = pool.queriers.reduce((n, q) => {
        const s = shareOf(q.id, pool.configured(q), seats, self);
        return n + s.maxConcurrent + s.idleActorSlots;
      }, 0);
      opts.log(
        `cluster: ${live.length} live replica(s) (${ids}); this one's share: ` +
          `${total} querier slot(s)${total === 0 ? " — none: raise max_concurrent to at least one per replica" : ""}`,
      );
    });
  }

  /** Draining (SIGTERM): leave the membership first, so tenants move at once; new sub-queries are turned away. */
  async drain(): Promise<void> {
    this.#draining = true;
    await this.membership.leave();
  }

  close(): Promise<void> {
    return this.membership.close();
  }

  view(): ClusterView {
    return {
      self: this.membership.self.id,
      live: this.membership.live().map((r) => ({ id: r.id, url: r.url, started: new Date(r.started).toISOString() })),
      tenants: [...this.#dispatcher.tenants()].map(([tenant, owner]) => ({ tenant, owner })),
    };
  }
}

export interface ReplicaSetOptions {
  log: (line: string) => void;
  /** The largest sub-query call the internal route reads. */
  maxBodyBytes: number;
  /** The config in force (runtime_config): read once per sub-query. */
  live?: () => FrontendConfig;
}
