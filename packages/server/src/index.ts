/**
 * @trpc-memory/server: memorize tRPC query results in a cache backend (in-memory
 * by default, Redis via `@trpc-memory/server/redis`), tenacity-style retries, config
 * helpers and a resilient ky-based upstream client for resolvers.
 *
 * @packageDocumentation
 */

export { MemoryBackend, type MemoryBackendOptions } from './backends/memory.js';

// --- cache core
export type { CacheBackend, MaybePromise } from './backends/types.js';
export {
  Cache,
  type CacheErrorEvent,
  type CacheOptions,
  type ClearOptions,
  createCache,
  type SetOptions,
} from './cache/cache.js';
export { CacheManager, clearCache, type InitCacheOptions, initCache } from './cache/manager.js';
// --- errors
export { CacheNotInitializedError, InvalidOptionError, TrpcMemoryError } from './errors.js';

// --- memorize (middleware)

// --- client cooperation (cacheHeaders, cachePolicy, invalidates)

// --- resilience (retry)

// --- config (lru, cachedSingleton)

// --- http (ResilientClient)
