/** Byte values under string keys. Implementations never throw to callers of get: a failure is a miss. */
export interface Cache {
  get(key: string): Promise<Uint8Array | undefined>;
  /** Resolves false when the value was not stored (too large, backend down). */
  set(key: string, value: Uint8Array, ttlSeconds: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

/** What a cache server reports; `server` names it ("host:port"). */
export interface CacheEvents {
  /** A backend operation failed or timed out. */
  error?(op: string, error: unknown, server: string): void;
  /** The server is bypassed (breaker open) or back. */
  state?(open: boolean, server: string): void;
  /** A value was not stored because it is too large. */
  skipped?(bytes: number, server: string): void;
}
