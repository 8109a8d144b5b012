import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backends/redis.js';
import { createCache } from '../../src/cache/cache.js';
import { type RedisCluster, startRedisCluster, testPort } from '../helpers/redis-server.js';
import { backendSuite } from './backend-suite.js';

// Ports reserved for this file.
const PORTS: [number, number, number] = [testPort(17101), testPort(17102), testPort(17103)];

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster(PORTS);
});
afterAll(async () => {
  await cluster?.stop();
});

const connect = () => new Cluster(cluster.nodes, { redisOptions: { connectTimeout: 2_000 } });

backendSuite('RedisBackend on a Redis Cluster', () => {
  const client = connect();
  const backend = new RedisBackend(client);
  return {
    backend,
    dispose: async () => {
      await backend.close();
      await client.quit();
    },
  };
});

describe('RedisBackend on a Redis Cluster', () => {
  it('spreads keys over every master and clears them from all of them', async () => {
    const client = connect();
    const backend = new RedisBackend(client);
    const cache = createCache(backend, { prefix: `cluster-${Date.now()}` });
    await Promise.all(Array.from({ length: 300 }, (_, i) => cache.set(`ns:${i}`, i)));
    const perMaster = await Promise.all(client.nodes('master').map((node) => node.dbsize()));
    expect(perMaster).toHaveLength(3);
    expect(perMaster.every((count) => count > 0)).toBe(true);
    await cache.clear({ namespace: 'ns' });
    const left = await Promise.all(Array.from({ length: 300 }, (_, i) => cache.get(`ns:${i}`)));
    expect(left.filter((value) => value !== undefined)).toEqual([]);
    await backend.close();
    await client.quit();
  });
});
