import { MemoryBackend } from '../backends/memory.js';
import type { CacheBackend } from '../backends/types.js';
import { CacheNotInitializedError, InvalidOptionError } from '../errors.js';
import { Cache, type CacheOptions, type ClearOptions, type SetOptions } from './cache.js';

let current: Cache | undefined;

/**
 * The global default cache (fastapi-memory's `FmCacheManager`). `memorize` and
 * `memorizeFn` use it unless given `{ cache }`.
 *
 * @example
 * ```ts
 * CacheManager.init(new MemoryBackend(), { prefix: 'app-cache', expire: 60 });
 * await CacheManager.set('my-key', { data: 'value' }, { expire: 10 });
 * await CacheManager.get('my-key'); // { data: 'value' }
 * await CacheManager.clear();
 * ```
 */
export const CacheManager = {
  /** Sets the global cache. A second call replaces the first (its backend is not closed). */
  init(backend: CacheBackend, options: CacheOptions = {}): Cache {
    current = new Cache(backend, options);
    return current;
  },
  /** Forgets the global cache (for tests). */
  reset(): void {
    current = undefined;
  },
  /** Whether `init`/`initCache` has been called. */
  get initialized(): boolean {
    return current !== undefined;
  },
  /** The global cache instance; throws when not initialised. */
  get instance(): Cache {
    if (current === undefined) throw new CacheNotInitializedError();
    return current;
  },
  /** The value stored under `${prefix}:${key}`, or `undefined`. */
  get<T = unknown>(key: string): Promise<T | undefined> {
    return CacheManager.instance.get<T>(key);
  },
  /** Stores under `${prefix}:${key}`; `expire` (seconds) defaults to the one given to `init`. */
  set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    return CacheManager.instance.set(key, value, options);
  },
  /** Removes this prefix's entries, one namespace's, or exactly one key. */
  clear(options?: ClearOptions): Promise<void> {
    return CacheManager.instance.clear(options);
  },
};

/** Options of {@link initCache}. */
export type InitCacheOptions = CacheOptions &
  (
    | { backend?: 'memory'; maxEntries?: number; maxBytes?: number }
    | { backend: 'redis' /** A `redis://` or `rediss://` URL. */; url: string }
  );

/**
 * Configures `CacheManager` in one line (fastapi-memory's `init_cache`).
 *
 * @example
 * ```ts
 * await initCache(); // in-memory
 * await initCache({ backend: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'app', expire: 60 });
 * ```
 */
export async function initCache(options: InitCacheOptions = {}): Promise<Cache> {
  const { backend = 'memory', prefix, expire, onError } = options;
  const cacheOptions: CacheOptions = {
    ...(prefix === undefined ? {} : { prefix }),
    ...(expire === undefined ? {} : { expire }),
    ...(onError === undefined ? {} : { onError }),
  };
  if (backend === 'memory') {
    const { maxEntries, maxBytes } = options as { maxEntries?: number; maxBytes?: number };
    return CacheManager.init(
      new MemoryBackend({
        ...(maxEntries === undefined ? {} : { maxEntries }),
        ...(maxBytes === undefined ? {} : { maxBytes }),
      }),
      cacheOptions,
    );
  }
  if (backend === 'redis') {
    const { url } = options as { url?: unknown };
    if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
      throw new InvalidOptionError(
        'initCache()',
        'url',
        url,
        "a redis:// or rediss:// URL when backend is 'redis'",
      );
    }
    const { RedisBackend } = await import('../backends/redis.js');
    return CacheManager.init(new RedisBackend(url), cacheOptions);
  }
  throw new InvalidOptionError('initCache()', 'backend', backend, "'memory' or 'redis'");
}

/**
 * Clears the global cache's entries (fastapi-memory's `clear_cache`).
 *
 * @example
 * ```ts
 * await clearCache();
 * ```
 */
export function clearCache(options?: ClearOptions): Promise<void> {
  return CacheManager.clear(options);
}
