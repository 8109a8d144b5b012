// Type-checked with typed.ts where the consumer installed ioredis 6 (see ../matrix.test.ts).
import { CacheManager } from '@trpc-memory/server';
import { RedisBackend, type RedisClient } from '@trpc-memory/server/redis';
import { Cluster, Redis } from 'ioredis';

export function useRedis(cluster: boolean): RedisBackend {
  const client: RedisClient = cluster ? new Cluster([{ host: '127.0.0.1', port: 7000 }]) : new Redis();
  const backend = new RedisBackend(client, { commandTimeout: 0.25 });
  CacheManager.init(backend, { prefix: 'typed', expire: 60 });
  return backend;
}
