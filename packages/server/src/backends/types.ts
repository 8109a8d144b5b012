/**
 * A value that may or may not be wrapped in a promise.
 *
 * @example
 * ```ts
 * const get = (key: string): MaybePromise<string | undefined> => map.get(key); // a synchronous backend
 * ```
 */
export type MaybePromise<T> = T | Promise<T>;

/**
 * What a cache backend stores: opaque strings under string keys, each with an
 * optional time to live. Backends know nothing of tRPC or of the codec; the cache
 * (`createCache`) encodes values and builds keys. Implement it to plug in your own
 * store.
 *
 * Synchronous backends may return plain values instead of promises: the cache
 * awaits either.
 *
 * @example
 * ```ts
 * class MapBackend implements CacheBackend {
 *   readonly name = 'map';
 *   #map = new Map<string, string>();
 *   get(key: string) { return this.#map.get(key); }
 *   set(key: string, value: string) { this.#map.set(key, value); }
 *   delete(key: string) { this.#map.delete(key); }
 *   deleteByPrefix(prefix: string) {
 *     for (const key of this.#map.keys()) if (key.startsWith(prefix)) this.#map.delete(key);
 *   }
 * }
 * ```
 */
export interface CacheBackend {
  /** A short name for logs and events, e.g. `'memory'` or `'redis'`. */
  readonly name: string;
  /** The stored string, or `undefined` when absent or expired. */
  get(key: string): MaybePromise<string | undefined>;
  /** Stores `value`; `ttl` is in seconds (fractions allowed), omitted for no expiry. */
  set(key: string, value: string, ttl?: number): MaybePromise<void>;
  /** Removes exactly `key`. */
  delete(key: string): MaybePromise<void>;
  /** Removes every key that starts with `prefix` (a literal prefix, not a pattern). */
  deleteByPrefix(prefix: string): MaybePromise<void>;
  /** Releases connections and timers; the backend is not used afterwards. */
  close?(): MaybePromise<void>;
}
