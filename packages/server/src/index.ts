/**
 * @trpc-memory/server: memorize tRPC query results in a cache backend (in-memory
 * by default, Redis via `@trpc-memory/server/redis`), tenacity-style retries, config
 * helpers and a resilient ky-based upstream client for resolvers.
 *
 * @packageDocumentation
 */

// --- errors

export {
  CacheNotInitializedError,
  CodecError,
  InvalidOptionError,
  InvalidReturnError,
  isTrpcMemoryError,
  MissingDependencyError,
  RedisBackendError,
  ResilientClientClosedError,
  RetryError,
  TrpcMemoryError,
  type TrpcMemoryErrorCode,
  UnkeyableValueError,
  UnknownProcedureError,
  UnsupportedUseError,
  UpstreamSchemaError,
} from './errors.js';

// --- cache core

export { MemoryBackend, type MemoryBackendOptions } from './backends/memory.js';
export type { RedisBackendOptions } from './backends/redis-options.js';
export type { TieredBackendOptions, TieredL1Options } from './backends/tiered-options.js';
export type {
  AcquireOptions,
  CacheBackend,
  FlightCoordinator,
  FlightTurn,
  MaybePromise,
} from './backends/types.js';
export {
  Cache,
  type CacheErrorEvent,
  type CacheOptions,
  type CacheStaleEvent,
  type ClearOptions,
  createCache,
  type SetOptions,
} from './cache/cache.js';
export { CacheManager, clearCache, type InitCacheOptions, initCache } from './cache/manager.js';

// --- memorize (middleware)

export { type SingleFlight, singleFlight } from './cache/single-flight.js';
export {
  type MemorizeKeyInput,
  type MemorizeMiddleware,
  type MemorizeOptions,
  type MemorizeTagsCall,
  memorize,
} from './middleware/memorize.js';
export { type MemorizeFnOptions, type MemorizeFnTagsCall, memorizeFn } from './middleware/memorize-fn.js';
export type { DistributedOptions, SharedMemorizeOptions } from './middleware/memorize-options.js';

// --- client cooperation (cacheHeaders, cachePolicy, invalidates)

export { cacheHeaders } from './middleware/cache-headers.js';
export {
  type CachePolicy,
  cachePolicy,
  type PolicyTarget,
  type ProcedureCachePolicy,
} from './middleware/cache-policy.js';
export {
  type InvalidatesCall,
  type InvalidatesMiddleware,
  type InvalidatesOptions,
  type InvalidatesPaths,
  type InvalidatesTargets,
  invalidates,
} from './middleware/invalidates.js';
export {
  type InputTarget,
  type InvalidateOptions,
  type InvalidationTarget,
  invalidate,
  type TagTarget,
} from './middleware/invalidation.js';
export { type QueryClientLike, reportServerTtl } from './ssr/report-server-ttl.js';

// --- resilience (retry)

export { type DefaultRetryOptions, defaultRetry } from './resilience/default-retry.js';
export { isRetryableHttpError } from './resilience/http-errors.js';
export {
  type RetryCondition,
  type Retrying,
  type RetryOptions,
  type RetryState,
  type RetryWrapper,
  retry,
  retryOnError,
  type StopStrategy,
  type WaitStrategy,
} from './resilience/retry.js';
export { stopAfterDelay, stopAfterRetries, stopAny } from './resilience/stop.js';
export {
  type ExponentialBackoffOptions,
  exponentialBackoff,
  fixedWait,
  type WaitRetryAfterOptions,
  waitRetryAfter,
} from './resilience/wait.js';

// --- config (lru, cachedSingleton)

export { cachedSingleton } from './config/cached-singleton.js';
export {
  type LruControls,
  type LruInfo,
  type LruOptions,
  type LruWrapper,
  lru,
  type Memoized,
} from './config/lru.js';

// --- http (ResilientClient)

export {
  type GetJsonOptions,
  type QueryParams,
  type QueryValue,
  type RequestOptions,
  ResilientClient,
  type ResilientClientOptions,
} from './http/resilient-client.js';
export type {
  InferSchemaOutput,
  StandardIssue,
  StandardResult,
  StandardSchema,
} from './http/schema.js';
export { trpcCodeForUpstreamStatus } from './http/upstream-error.js';
