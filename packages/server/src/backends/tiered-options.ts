import type { RedisBackendOptions } from './redis-options.js';

/**
 * The in-process tier of a `TieredBackend`: the memory backend's LRU bounds.
 *
 * @example
 * ```ts
 * new TieredBackend('redis://127.0.0.1:6379', { l1: { maxEntries: 5_000, maxBytes: 50_000_000 } });
 * ```
 */
export interface TieredL1Options {
  /**
   * Most entries kept in process; past it the least recently used is evicted.
   * @default 10_000
   */
  maxEntries?: number;
  /**
   * Optional bound on the bytes held in process, counted like `MemoryBackend`'s
   * (2 bytes per UTF-16 code unit of key and stored string).
   * @default undefined (no byte bound)
   */
  maxBytes?: number;
  /**
   * Seconds between sweeps of expired in-process entries nobody reads any more; `0` turns it off.
   * @default 60
   */
  purgeInterval?: number;
}

/**
 * Options of `TieredBackend`. The Redis options (`commandTimeout`, `cooldown`,
 * `scanCount`) apply when it makes its `RedisBackend` from a client or URL.
 *
 * @example
 * ```ts
 * new TieredBackend(new Redis(process.env.REDIS_URL!), { l1: { maxEntries: 5_000 }, busLossTtl: 2 });
 * ```
 */
export interface TieredBackendOptions extends RedisBackendOptions {
  /** Bounds of the in-process tier. */
  l1?: TieredL1Options;
  /**
   * Seconds an in-process entry may live while the invalidation bus is down
   * (subscriber disconnected, Redis unreachable, messages found missing): the
   * longest any instance serves a value another instance has invalidated.
   * @default 5
   */
  busLossTtl?: number;
  /**
   * The pub/sub channel of the invalidation bus; instances sharing a Redis and a
   * cache prefix must share it.
   * @default 'trpc-memory:bus'
   */
  channel?: string;
}
