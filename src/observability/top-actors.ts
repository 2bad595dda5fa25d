import { Counter, type Registry } from "prom-client";

/** The series every actor without one of its own counts under. */
export const OTHER_ACTOR = { tenant: "", actor: "other" } as const;

/**
 * Per-actor counters of queries and querier time with bounded cardinality: at most `n` actors have a series of
 * their own, the others count under actor="other", so at most n + 1 series each. The actors with a series are
 * those that used the most querier time recently: one that used more than the least of them takes its place. The
 * series it leaves is removed (never lowered: every series only ever grows), and its later queries count in "other".
 */
export class TopActors {
  readonly #queries: Counter;
  readonly #seconds: Counter;
  // tenant \0 actor path → labels, for the actors that have a series.
  readonly #own = new Map<string, { tenant: string; actor: string }>();

  constructor(
    readonly n: number,
    registry: Registry,
    /** Querier time (ms) an actor used recently: the status page's window. */
    readonly recentMs: (tenant: string, actor: string) => number,
  ) {
    const labelNames = ["tenant", "actor"];
    this.#queries = new Counter({
      name: "fairgate_actor_queries_total",
      help: `Queries answered, for the ${n} actors that used the most querier time recently; the rest as actor="other".`,
      labelNames,
      registers: [registry],
    });
    this.#seconds = new Counter({
      name: "fairgate_actor_querier_seconds_total",
      help: `Querier time used, for the ${n} actors that used the most recently; the rest as actor="other".`,
      labelNames,
      registers: [registry],
    });
  }

  /** One query of `actor` in `tenant` that used `querierMs`. */
  count(tenant: string, actor: string, querierMs: number): void {
    const labels = this.#seriesOf(tenant, actor);
    this.#queries.inc(labels);
    this.#seconds.inc(labels, querierMs / 1000);
  }

  #seriesOf(tenant: string, actor: string): { tenant: string; actor: string } {
    const key = `${tenant}\0${actor}`;
    const own = this.#own.get(key);
    if (own) return own;
    if (this.n === 0) return OTHER_ACTOR;
    if (this.#own.size >= this.n) {
      let least: [string, { tenant: string; actor: string }, number] | undefined;
      for (const [k, labels] of this.#own) {
        const used = this.recentMs(labels.tenant, labels.actor);
        if (!least || used < least[2]) least = [k, labels, used];
      }
      if (this.recentMs(tenant, actor) <= least![2]) return OTHER_ACTOR;
      this.#own.delete(least![0]);
      this.#queries.remove(least![1]);
      this.#seconds.remove(least![1]);
    }
    const labels = { tenant, actor };
    this.#own.set(key, labels);
    return labels;
  }
}
