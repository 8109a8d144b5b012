import { MemoryBackend } from '../backends/memory.js';
import type { RedisBackendOptions } from '../backends/redis-options.js';
import type { TieredL1Options } from '../backends/tiered-options.js';
import type { CacheBackend } from '../backends/types.js';
import {
  CacheNotInitializedError,
  InvalidOptionError,
  MissingDependencyError,
  UnsupportedUseError,
} from '../errors.js';
import { Cache, type CacheOptions, type ClearOptions, type SetOptions } from './cache.js';
import { checkCacheOptions } from './cache-internals.js';

/** What `init`/`initCache` set up: the one state every copy of the library shares. */
interface GlobalCacheSlot {
  current: Cache | undefined;
  /** The backend `initCache` made for `current`: ours to close when replaced. */
  owned: CacheBackend | undefined;
}

/**
 * The global cache lives on `globalThis` under a registered symbol, not in a
 * module variable: one process often loads several copies of this module (Next.js
 * bundles `instrumentation.ts` apart from the routes, a dependency may bring its
 * own install, a dev server re-evaluates modules on reload), and `initCache()` in
 * one copy must configure `memorize` in all of them. The version names the
 * slot's shape and the `Cache` methods the middleware calls on the shared
 * instance: bump it when either changes incompatibly, so copies that cannot
 * share keep to themselves instead of calling methods the other lacks.
 */
const SLOT_KEY = Symbol.for('@trpc-memory/server:global-cache@1');

function globalSlot(): GlobalCacheSlot {
  const registry = globalThis as { [SLOT_KEY]?: GlobalCacheSlot };
  const found = registry[SLOT_KEY];
  if (found !== undefined) return found;
  const slot: GlobalCacheSlot = { current: undefined, owned: undefined };
  // Not enumerable and never replaced: every copy keeps the object it found.
  Object.defineProperty(registry, SLOT_KEY, { value: slot, enumerable: false, writable: false });
  return slot;
}

const slot = globalSlot();

function release(): void {
  const backend = slot.owned;
  slot.owned = undefined;
  // Fire and forget: replacing the cache must not wait on (or fail with) Redis.
  if (backend?.close !== undefined) Promise.resolve(backend.close()).catch(() => {});
}

function install(backend: CacheBackend, options: CacheOptions, own: boolean): Cache {
  const cache = new Cache(backend, options);
  release();
  slot.current = cache;
  if (own) slot.owned = backend;
  return cache;
}

/**
 * The global default cache (fastapi-memory's `FmCacheManager`). `memorize` and
 * `memorizeFn` use it unless given `{ cache }`. It is one per process (per
 * isolate on edge runtimes), shared by every copy of `@trpc-memory/server` loaded
 * there: `initCache()` in Next.js's `instrumentation.ts` configures the routes too.
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
    slot.current = undefined;
  },
  /**
   * Forgets the global cache and waits for the backend `initCache()` made to
   * close (its Redis connection, at shutdown). A backend you passed to `init`
   * stays open: close it yourself.
   */
  async close(): Promise<void> {
    const backend = slot.owned;
    slot.owned = undefined;
    slot.current = undefined;
    await backend?.close?.();
  },
  /** Whether `init`/`initCache` has been called. */
  get initialized(): boolean {
    return slot.current !== undefined;
  },
  /** The global cache instance; throws when not initialised. */
  get instance(): Cache {
    const { current } = slot;
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
        /**
         * See `MemoryBackendOptions.maxEntries`. Default `10_000`.
         *
         * @default 10_000
         */
        maxEntries?: number;
        /**
         * See `MemoryBackendOptions.maxBytes`. Default: no byte bound.
         *
         * @default no byte bound
         */
        maxBytes?: number;
      }
    | ({
        /** `'redis'`: a `RedisBackend` (needs the optional peer dependency `ioredis`). */
        backend: 'redis';
        /** A `redis://` or `rediss://` URL. */
        url: string;
        /**
         * With it, a `TieredBackend`: an in-process L1 of these bounds in front of
         * Redis, kept coherent across instances by a pub/sub invalidation bus.
         * Without it, a plain `RedisBackend`.
         * @default undefined (no L1)
         */
        l1?: TieredL1Options;
        /**
         * With `l1`: seconds an L1 entry may live while the invalidation bus is down
         * (see `TieredBackendOptions.busLossTtl`).
         * @default 5
         */
        busLossTtl?: number;
      } & RedisBackendOptions)
  );

/** A variable, not a literal: bundlers must not try to resolve it (nor ioredis behind it). */
const REDIS_ENTRY: string = '@trpc-memory/server/redis';

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
 * // many instances: an in-process L1 in front of Redis, invalidated across instances
 * await initCache({ backend: 'redis', url: 'redis://127.0.0.1:6379', l1: { maxEntries: 5_000 } });
 * ```
 */
export async function initCache(options: InitCacheOptions = {}): Promise<Cache> {
  const { backend = 'memory', prefix, expire, onError, onStale } = options;
  const cacheOptions: CacheOptions = {
    ...(prefix === undefined ? {} : { prefix }),
    ...(expire === undefined ? {} : { expire }),
    ...(onError === undefined ? {} : { onError }),
    ...(onStale === undefined ? {} : { onStale }),
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
    const { url, commandTimeout, cooldown, scanCount, l1, busLossTtl } = options as {
      url?: unknown;
      l1?: TieredL1Options;
      busLossTtl?: number;
    } & RedisBackendOptions;
    if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
      throw new InvalidOptionError(
        'initCache()',
        'url',
        url,
        "a redis:// or rediss:// URL when backend is 'redis'",
      );
    }
    let redis: typeof import('../redis.js');
    try {
      // By name, at run time, and hidden from bundlers: a bundle of the main entry
      // (Next.js, an edge runtime) must build without ioredis installed, and
      // Turbopack and webpack fail on an unresolvable module even behind import().
      redis = await import(
        /* webpackIgnore: true */ /* turbopackIgnore: true */ /* @vite-ignore */ REDIS_ENTRY
      );
    } catch (error) {
      if (isMissingIoredis(error)) throw new MissingDependencyError(INSTALL_IOREDIS, { cause: error });
      throw new UnsupportedUseError(
        `initCache({ backend: 'redis' }) could not load ${REDIS_ENTRY}: the Redis backend runs on Node only (on edge and worker runtimes use the memory backend); in a bundled Node app, call CacheManager.init(new RedisBackend(url)) with RedisBackend imported from ${REDIS_ENTRY}.`,
        { cause: error },
      );
    }
    const backendOptions: RedisBackendOptions = {
      ...(commandTimeout === undefined ? {} : { commandTimeout }),
      ...(cooldown === undefined ? {} : { cooldown }),
      ...(scanCount === undefined ? {} : { scanCount }),
    };
    if (l1 === undefined && busLossTtl === undefined) {
      return install(new redis.RedisBackend(url, backendOptions), cacheOptions, true);
    }
    const tiered = new redis.TieredBackend(url, {
      ...backendOptions,
      ...(l1 === undefined ? {} : { l1 }),
      ...(busLossTtl === undefined ? {} : { busLossTtl }),
    });
    return install(tiered, cacheOptions, true);
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
