/**
 * TieredBackend on a 3-master Redis Cluster, over ioredis and node-redis: the
 * backend contract, and the (sharded) bus between instances.
 */
import { randomUUID } from 'node:crypto';
import { registerBackendSuite } from '@trpc-memory/server/test-suite';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/backends/redis-clients.js';
import { TieredBackend } from '../../src/backends/tiered.js';
import {
  patient,
  type RedisCluster,
  startRedisCluster,
  testPort,
  untilClusterServes,
} from '../helpers/redis-server.js';
import { until } from '../helpers/time.js';

// Ports reserved for this file.
const PORTS: [number, number, number] = [testPort(17147), testPort(17148), testPort(17149)];

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster(PORTS);
});
afterAll(async () => {
  await cluster?.stop();
});

const ioredis = () => new Cluster(cluster.nodes, { redisOptions: { connectTimeout: 2_000 } });
async function nodeRedis() {
  const client = createCluster({
    rootNodes: cluster.nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
  });
  await client.connect();
  return client;
}

let suiteClient: Cluster | undefined;
registerBackendSuite(
  { describe, it, expect, beforeAll, afterAll },
  {
    name: 'TieredBackend on an ioredis Cluster',
    make: async () => {
      suiteClient = ioredis();
      const backend = new TieredBackend(suiteClient, { ...patient, channel: `bus-${randomUUID()}` });
      await untilClusterServes(backend.l2);
      return backend;
    },
    dispose: async () => {
      await suiteClient?.quit();
    },
  },
);

for (const [name, connect] of [
  ['ioredis', async () => ioredis()],
  ['node-redis', nodeRedis],
] as const) {
  describe(`the sharded bus over ${name}`, () => {
    it('drops the other instances’ copies on set, delete and deleteByPrefix', async () => {
      const channel = `bus-${randomUUID()}`;
      const clients = [await connect(), await connect()];
      const [a, b] = clients.map(
        (client) => new TieredBackend(client as RedisClient, { ...patient, channel }),
      ) as [TieredBackend, TieredBackend];
      try {
        await until(() => a.busUp && b.busUp, { what: 'the bus coming up', timeout: 15_000 });
        // Keys on every master: the bus does not depend on where a key lives.
        const keys = Array.from({ length: 12 }, (_, i) => `ns-${channel}:${i}`);
        await untilClusterServes(a.l2);
        await untilClusterServes(b.l2);
        for (const key of keys) await a.set(key, 'v1', 60);
        for (const key of keys) {
          while (!b.hasInL1(key)) expect(await b.get(key)).toBe('v1');
        }
        await a.set(keys[0]!, 'v2', 60);
        await until(() => !b.hasInL1(keys[0]!), { what: 'b dropping the changed key', timeout: 15_000 });
        expect(await b.get(keys[0]!)).toBe('v2');
        await a.delete(keys[1]!);
        await until(() => !b.hasInL1(keys[1]!), { what: 'b dropping the deleted key', timeout: 15_000 });
        await a.deleteByPrefix(`ns-${channel}:`);
        await until(() => keys.every((key) => !b.hasInL1(key)), {
          what: 'b dropping the prefix',
          timeout: 15_000,
        });
        expect(await b.get(keys[5]!)).toBeUndefined();
      } finally {
        await Promise.all([a.close(), b.close()]);
        for (const client of clients) {
          if ('quit' in client && typeof client.quit === 'function') await client.quit();
          else (client as { destroy(): void }).destroy();
        }
      }
    });
  });
}
