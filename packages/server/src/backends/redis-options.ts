/**
 * Options of `RedisBackend`. Kept apart from the backend itself so the main entry
 * can name them (for `initCache`) without importing ioredis.
 *
 * @example
 * ```ts
 * new RedisBackend('redis://127.0.0.1:6379', { commandTimeout: 0.25, cooldown: 2 });
 * ```
 */
export interface RedisBackendOptions {
  /**
   * Seconds a Redis command may take before the backend gives up on it; the
   * cache then serves a miss (reads) or skips storing (writes) and reports the
   * timeout through `onError` (at most 10 % later than this). Applies to clients
   * you pass in too, whatever their own `commandTimeout`. Default `0.5`.
   *
   * @default 0.5
   */
  commandTimeout?: number;
  /**
   * Seconds during which commands fail at once (as misses) after one timed out,
   * so a stalled Redis costs each request nothing instead of `commandTimeout`.
   * `0` turns it off. Default `1`.
   *
   * @default 1
   */
  cooldown?: number;
  /**
   * `COUNT` hint of each `SCAN` step when clearing a prefix or namespace: keys
   * examined (and at most unlinked) per round trip. Smaller steps keep other
   * clients' commands from waiting behind a long one; larger ones finish the
   * clear sooner (steps are 1 ms apart). Measured on 200,000 keys: 200 kept
   * other reads' p99 under 5 ms where 1000 let it reach 10–20 ms.
   * @default 200
   */
  scanCount?: number;
}
