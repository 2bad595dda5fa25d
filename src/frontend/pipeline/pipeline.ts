import type { FrontendConfig } from "../../config/schema.js";
import { codecs } from "../api/codecs.js";
import type { StoredValues } from "../cache/stored.js";
import { compose, type Handler } from "../types.js";
import { align } from "./align.js";
import { AnswerCache } from "./answer-cache.js";
import { leadStep } from "./lead-step.js";
import { pieceCache } from "./piece-cache.js";
import { resultsCache } from "./results-cache.js";
import { type HeldPieces, split } from "./split.js";

export interface PipelineOptions {
  /** Hash for results cache keys (tests force collisions with it). */
  cacheKeyHash?: (full: string) => string;
  now?: () => number;
  /** Told how many split pieces wait inside their query under max_query_parallelism. */
  heldPieces?: HeldPieces;
}

/** The query pipeline as configured: align, split, the results cache when enabled, the piece cache. */
export function queryPipeline(
  config: FrontendConfig,
  store: StoredValues,
  dispatch: Handler,
  opts: PipelineOptions = {},
): Handler {
  const c = config.cache;
  return compose(
    align,
    split((req, parts) => codecs[req.api].merge(req, parts), opts.heldPieces),
    ...(c.results.enabled
      ? [
          resultsCache({
            store,
            ttlSeconds: c.results.ttl / 1000,
            minExtentMs: c.results.min_extent,
            hash: opts.cacheKeyHash,
            now: opts.now,
          }),
        ]
      : []),
    pieceCache({
      store,
      metadata: c.metadata.enabled ? { ttlSeconds: c.metadata.ttl / 1000 } : undefined,
      emptyLogs: c.empty_logs.enabled ? { ttlSeconds: c.empty_logs.ttl / 1000 } : undefined,
      now: opts.now,
    }),
    leadStep,
  )(dispatch);
}

/** The answer cache, when the results cache is enabled (it shares its TTL). */
export function answerCache(
  config: FrontendConfig,
  store: StoredValues,
  opts: PipelineOptions = {},
): AnswerCache | undefined {
  if (!config.cache.results.enabled) return undefined;
  const hash = opts.cacheKeyHash;
  return new AnswerCache(store, config.cache.results.ttl / 1000, opts.now, hash && ((full) => `qa:${hash(full)}`));
}
