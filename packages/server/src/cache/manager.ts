import { MemoryBackend } from '../backends/memory.js';
import type { RedisBackendOptions } from '../backends/redis-options.js';
import type { CacheBackend } from '../backends/types.js';
import { CacheNotInitializedError, InvalidOptionError, TrpcMemoryError } from '../errors.js';
import { Cache, type CacheOptions, type ClearOptions, checkCacheOptions, type SetOptions } from './cache.js';

let current: Cache | undefined;
/** The backend `initCache` made for `current`: ours to close when replaced. */
let owned: CacheBackend | undefined;

function release(): void {
  const backend = owned;
  owned = undefined;
  // Fire and forget: replacing the cache must not wait on (or fail with) Redis.
  if (backend?.close !== undefined) Promise.resolve(backend.close()).catch(() => {});
}

function install(backend: CacheBackend, options: CacheOptions, own: boolean): Cache {
  const cache = new Cache(backend, options);
  release();
  current = cache;
  if (own) owned = backend;
  return cache;
}

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
  /**
   * Sets the global cache. A second call replaces the first: from then on every
   * `CacheManager` call and `memorize` without `{ cache }` use the new one. A
   * backend you pass is never closed for you; one that `initCache()` made is
   * closed when replaced.
   */
  init(backend: CacheBackend, options: CacheOptions = {}): Cache {
    return install(backend, options, false);
  },
  /** Forgets the global cache (for tests); closes the backend `initCache()` made. */
  reset(): void {
    release();
    current = undefined;
  },
  /**
   * Forgets the global cache and waits for the backend `initCache()` made to
   * close (its Redis connection, at shutdown). A backend you passed to `init`
   * stays open: close it yourself.
   */
  async close(): Promise<void> {
    const backend = owned;
    owned = undefined;
    current = undefined;
    await backend?.close?.();
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
  async get<T = unknown>(key: string): Promise<T | undefined> {
    return CacheManager.instance.get<T>(key);
  },
  /** Stores under `${prefix}:${key}`; `expire` (seconds) defaults to the one given to `init`. */
  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    return CacheManager.instance.set(key, value, options);
  },
  /** Removes this prefix's entries, one namespace's, or exactly one key. */
  async clear(options?: ClearOptions): Promise<void> {
    return CacheManager.instance.clear(options);
  },
};

/**
 * Options of {@link initCache}.
 *
 * @example
 * ```ts
 * const options: InitCacheOptions = { backend: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'app', expire: 60 };
 * await initCache(options);
 * ```
 */
export type InitCacheOptions = CacheOptions &
  (
    | {
        /** `'memory'` (the default): an in-process `MemoryBackend`. */
        backend?: 'memory';
        /** See `MemoryBackendOptions.maxEntries`. Default `10_000`. */
        maxEntries?: number;
        /** See `MemoryBackendOptions.maxBytes`. Default: no byte bound. */
        maxBytes?: number;
      }
    | ({
        /** `'redis'`: a `RedisBackend` (needs the optional peer dependency `ioredis`). */
        backend: 'redis';
        /** A `redis://` or `rediss://` URL. */
        url: string;
      } & RedisBackendOptions)
  );

const INSTALL_IOREDIS =
  "initCache({ backend: 'redis' }) needs the optional peer dependency ioredis: run `npm install ioredis` (or `pnpm add ioredis` / `yarn add ioredis`).";

function isMissingIoredis(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  const missing =
    code === 'ERR_MODULE_NOT_FOUND' ||
    code === 'MODULE_NOT_FOUND' ||
    /cannot find (module|package)|failed to (load|resolve)/i.test(error.message);
  return missing && /['"]ioredis['"/]/.test(error.message);
}

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
  // Before any backend exists: a Redis connection made for a bad prefix would leak.
  checkCacheOptions('initCache()', cacheOptions);
  if (backend === 'memory') {
    const { maxEntries, maxBytes } = options as { maxEntries?: number; maxBytes?: number };
    return install(
      new MemoryBackend({
        ...(maxEntries === undefined ? {} : { maxEntries }),
        ...(maxBytes === undefined ? {} : { maxBytes }),
      }),
      cacheOptions,
      true,
    );
  }
  if (backend === 'redis') {
    const { url, commandTimeout, cooldown, scanCount } = options as { url?: unknown } & RedisBackendOptions;
    if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
      throw new InvalidOptionError(
        'initCache()',
        'url',
        url,
        "a redis:// or rediss:// URL when backend is 'redis'",
      );
    }
    let redis: typeof import('../backends/redis.js');
    try {
      // Loaded only here, so the main entry works without ioredis installed.
      redis = await import('../backends/redis.js');
    } catch (error) {
      if (isMissingIoredis(error)) throw new TrpcMemoryError(INSTALL_IOREDIS, { cause: error });
      throw error;
    }
    const backendOptions: RedisBackendOptions = {
      ...(commandTimeout === undefined ? {} : { commandTimeout }),
      ...(cooldown === undefined ? {} : { cooldown }),
      ...(scanCount === undefined ? {} : { scanCount }),
    };
    return install(new redis.RedisBackend(url, backendOptions), cacheOptions, true);
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
