/**
 * `@trpc-memory/server/redis`: the Redis backend and the tiered backend (an
 * in-process L1 in front of Redis, kept coherent by a pub/sub bus), over ioredis or node-redis v5
 * (both optional peer dependencies: install the one you use, `npm install ioredis`
 * or `npm install redis`). Neither is imported until used: a client you pass in
 * is driven through its own methods, and only a `redis://` URL loads ioredis.
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
  type IoredisClient,
  type NodeRedisClient,
  RedisBackend,
  type RedisBackendOptions,
  type RedisClient,
} from './backends/redis.js';
export { TieredBackend, type TieredBackendOptions, type TieredL1Options } from './backends/tiered.js';
// Also exported from the main entry, with every other error class.
export { RedisBackendError } from './errors.js';
