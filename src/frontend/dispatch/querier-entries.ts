import { diffQueriers, parseQuerierAddress, type QuerierAddress } from "../../config/querier-address.js";
import type { FrontendConfig } from "../../config/schema.js";
import { lookupQueriers } from "./discovery.js";

/** One `queriers` entry: a URL, or a DNS name whose queriers were last found at `urls`. */
interface Entry {
  address: QuerierAddress;
  /** Undefined until a lookup first succeeds. */
  urls?: Set<string>;
  /** Why the last lookup failed (cleared by a good one). */
  error?: string;
}

/** What changed for entry `entry`: the URLs it stands for now, and those that came and went. */
export type EntryChange = (entry: number, change: { urls: string[]; added: string[]; removed: string[] }) => void;

/**
 * The `queriers` entries and the querier URLs each stands for: a URL as written, a DNS name as last found. Lookups
 * that fail or find nothing keep the entry's last good set, and are logged and counted.
 */
export class QuerierEntries {
  readonly #entries: Entry[];
  #looking = false;
  #closed = false;

  constructor(
    readonly config: FrontendConfig,
    readonly changed: EntryChange,
    readonly report: { log: (line: string) => void; failed: (entry: string) => void },
  ) {
    this.#entries = config.queriers.map((q) => ({ address: parseQuerierAddress(q.url) }));
  }

  /** Applies the entries written as URLs (at once, without DNS). */
  applyStatic(): void {
    this.#entries.forEach((e, entry) => {
      if (e.address.kind === "static") this.#apply(entry, [e.address.url]);
    });
  }

  get discovers(): boolean {
    return this.#entries.some((e) => e.address.kind === "dns");
  }

  /** Looks up every DNS entry once. A refresh shorter than a slow lookup waits for it rather than racing it. */
  async refresh(): Promise<void> {
    if (this.#looking || this.#closed) return;
    this.#looking = true;
    try {
      const { resolvers, timeout } = this.config.discovery;
      await Promise.all(
        this.#entries.map(async (e, entry) => {
          if (e.address.kind !== "dns") return;
          const name = this.config.queriers[entry]!.url;
          try {
            const urls = await lookupQueriers(e.address, { resolvers, timeoutMs: timeout });
            if (this.#closed) return;
            e.error = undefined;
            this.#apply(entry, urls);
          } catch (err) {
            if (this.#closed) return;
            e.error = (err as Error).message;
            this.report.failed(name);
            const kept = e.urls ? `keeping the ${e.urls.size} querier(s) found before` : "no querier found yet";
            this.report.log(`querier discovery: ${name}: ${e.error}; ${kept}`);
          }
        }),
      );
    } finally {
      this.#looking = false;
    }
  }

  /** The first entry that stands for `url` now, or -1. */
  listing(url: string): number {
    return this.#entries.findIndex((e) => e.urls?.has(url));
  }

  /** The DNS entries that never found a querier, each with why. */
  unresolved(): string[] {
    return this.#entries.flatMap((e, entry) =>
      e.urls ? [] : [`${this.config.queriers[entry]!.url}: ${e.error ?? "not looked up yet"}`],
    );
  }

  close(): void {
    this.#closed = true;
  }

  #apply(entry: number, urls: string[]): void {
    const e = this.#entries[entry]!;
    const { added, removed } = diffQueriers(e.urls ?? [], urls);
    e.urls = new Set(urls);
    if (added.length === 0 && removed.length === 0) return;
    if (e.address.kind === "dns") {
      const news = added.length ? `; new: ${added.join(", ")}` : "";
      const gone = removed.length ? `; draining: ${removed.join(", ")}` : "";
      this.report.log(
        `querier discovery: ${this.config.queriers[entry]!.url}: ${urls.length} querier(s)${news}${gone}`,
      );
    }
    this.changed(entry, { urls, added, removed });
  }
}
