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
  /**
   * Optional: a lock per key shared by every process using the same store, for
   * `memorize({ distributed: true })` (see {@link FlightCoordinator}). Without
   * it, single-flight stays within each process.
   */
  readonly flights?: FlightCoordinator;
  /**
   * Optional, for backends that fail outside any call (a background connection
   * lost, as `TieredBackend`'s invalidation bus): every cache made over the
   * backend hands it a reporter, which ends in the cache's `onError` (operation
   * `'bus'`). Hold it weakly: the cache may be dropped before the backend.
   */
  reportTo?(report: (error: unknown) => void): void;
}

/**
 * One process's turn at computing a key, as {@link FlightCoordinator.acquire}
 * hands it out: either this process holds the lock (`held: true`) and must
 * `release()` it once the value is stored or the computation failed, or another
 * process holds it (`held: false`) and `released` settles when that one
 * announces it is done, or after the poll interval, whichever comes first.
 *
 * @example
 * ```ts
 * const turn = await backend.flights.acquire(key, { ttl: 10, poll: 0.1 });
 * if (turn.held) {
 *   try { await backend.set(key, await compute(), 60); } finally { await turn.release(); }
 * } else {
 *   await turn.released; // then read the key again
 * }
 * ```
 */
export type FlightTurn =
  | {
      readonly held: true;
      /** Releases the lock (only if still ours) and wakes the processes waiting for it. Never rejects. */
      release(): Promise<void>;
    }
  | {
      readonly held: false;
      /** Settles (never rejects) when the holder announced it is done, or after `poll` seconds. */
      readonly released: Promise<void>;
    };

/**
 * Options of {@link FlightCoordinator.acquire}.
 *
 * @example
 * ```ts
 * const options: AcquireOptions = { ttl: 10, poll: 0.1 };
 * ```
 */
export interface AcquireOptions {
  /**
   * Seconds the lock lives when its holder never releases it (crashed, or still
   * computing): past it, the next process takes over.
   */
  ttl: number;
  /** Seconds a waiter waits for the holder's announcement before looking again. */
  poll: number;
}

/**
 * An optional backend capability: one lock per key shared by every process using
 * the same store, so that concurrent cold calls for a key compute it once across
 * all of them (distributed single-flight, `memorize({ distributed: true })`).
 * `RedisBackend` provides it (`SET NX PX` with a random token, released by its
 * holder only, announced over pub/sub); a custom backend may too.
 *
 * @example
 * ```ts
 * const flights = new RedisBackend(process.env.REDIS_URL!).flights;
 * const turn = await flights.acquire('app:report:7', { ttl: 10, poll: 0.1 });
 * ```
 */
export interface FlightCoordinator {
  /**
   * Tries to take the lock of `key` (a full backend key). Rejects when the store
   * cannot be reached: the caller then computes on its own.
   */
  acquire(key: string, options: AcquireOptions): Promise<FlightTurn>;
}
