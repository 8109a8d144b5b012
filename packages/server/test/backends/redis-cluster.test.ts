import { randomUUID } from 'node:crypto';
import { registerBackendSuite } from '@trpc-memory/server/test-suite';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backends/redis.js';
import { createCache } from '../../src/cache/cache.js';
import { patient, type RedisCluster, startRedisCluster, testPort } from '../helpers/redis-server.js';

// Ports reserved for this file.
const PORTS: [number, number, number] = [testPort(17101), testPort(17102), testPort(17103)];

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster(PORTS);
});
afterAll(async () => {
  await cluster?.stop();
});

const connect = (options: { keyPrefix?: string } = {}) =>
  new Cluster(cluster.nodes, { redisOptions: { connectTimeout: 2_000 }, ...options });
const connectNodeRedis = () =>
  createCluster({ rootNodes: cluster.nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })) });

const suiteApi = { describe, it, expect, beforeAll, afterAll };

let ioCluster: Cluster | undefined;
registerBackendSuite(suiteApi, {
  name: 'RedisBackend on an ioredis Cluster',
  make: () => {
    ioCluster = connect();
    return new RedisBackend(ioCluster, patient);
  },
  dispose: async () => {
    await ioCluster?.quit();
  },
});

let nodeCluster: ReturnType<typeof connectNodeRedis> | undefined;
registerBackendSuite(suiteApi, {
  name: 'RedisBackend on a node-redis cluster',
  make: async () => {
    nodeCluster = connectNodeRedis();
    await nodeCluster.connect();
    return new RedisBackend(nodeCluster, patient);
  },
  dispose: () => nodeCluster?.destroy(),
});

async function spreadAndClear(backend: RedisBackend, perMaster: () => Promise<number[]>): Promise<void> {
  const cache = createCache(backend, { prefix: `cluster-${randomUUID().slice(0, 8)}` });
  await Promise.all(Array.from({ length: 300 }, (_, i) => cache.set(`ns:${i}`, i)));
  const counts = await perMaster();
  expect(counts).toHaveLength(3);
  expect(counts.every((count) => count > 0)).toBe(true);
  await cache.clear({ namespace: 'ns' });
  const left = await Promise.all(Array.from({ length: 300 }, (_, i) => cache.get(`ns:${i}`)));
  expect(left.filter((value) => value !== undefined)).toEqual([]);
}

describe('RedisBackend on a Redis Cluster', () => {
  it('ioredis: spreads keys over every master and clears them from all of them', async () => {
    const client = connect();
    const backend = new RedisBackend(client, patient);
    await spreadAndClear(backend, () => Promise.all(client.nodes('master').map((node) => node.dbsize())));
    await backend.close();
    await client.quit();
  });

  it('node-redis: spreads keys over every master and clears them from all of them', async () => {
    const client = connectNodeRedis();
    await client.connect();
    const backend = new RedisBackend(client, patient);
    await spreadAndClear(backend, () =>
      Promise.all(client.masters.map(async (node) => (await client.nodeClient(node)).dbSize())),
    );
    await backend.close();
    client.destroy();
  });

  it('clears through an ioredis keyPrefix with glob characters (tenant[1]:), and only under it', async () => {
    const tenant = `tenant[${randomUUID().slice(0, 4)}]*?:`;
    const client = connect({ keyPrefix: tenant });
    const neighbour = connect({ keyPrefix: tenant.replace('[', 'X') });
    const backend = new RedisBackend(client, patient);
    const other = new RedisBackend(neighbour, patient);
    const cache = createCache(backend, { prefix: 'app' });
    const beside = createCache(other, { prefix: 'app' });
    await Promise.all(Array.from({ length: 50 }, (_, i) => cache.set(`n:${i}`, i)));
    await beside.set('n:1', 'neighbour');
    await cache.clear();
    const left = await Promise.all(Array.from({ length: 50 }, (_, i) => cache.get(`n:${i}`)));
    expect(left.filter((value) => value !== undefined)).toEqual([]);
    expect(await beside.get('n:1')).toBe('neighbour');
    await beside.clear();
    await Promise.all([backend.close(), other.close()]);
    await Promise.all([client.quit(), neighbour.quit()]);
  });
});
