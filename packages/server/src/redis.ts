/**
 * `@trpc-memory/server/redis`: the Redis backend. The only entry that imports
 * ioredis (an optional peer dependency: `npm install ioredis`).
 *
 * @example
 * ```ts
 * import { CacheManager } from '@trpc-memory/server';
 * import { RedisBackend } from '@trpc-memory/server/redis';
 *
 * CacheManager.init(new RedisBackend('redis://127.0.0.1:6379'), { prefix: 'app', expire: 60 });
 * ```
 *
 * @packageDocumentation
 */
export {
  RedisBackend,
  RedisBackendError,
  type RedisBackendOptions,
  type RedisClient,
} from './backends/redis.js';
