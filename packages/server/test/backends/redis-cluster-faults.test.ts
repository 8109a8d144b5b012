/**
 * A Redis Cluster master killed under the backend, over ioredis and node-redis:
 * the writes in flight on it fail at once (never held until `commandTimeout`,
 * never retried on another node later), the other masters keep serving. Each
 * client gets a cluster of its own, since the test breaks it.
 */

import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backends/redis.js';
import type { RedisClient } from '../../src/backends/redis-clients.js';
import { RedisBackendError } from '../../src/errors.js';
import { killNow, type RedisCluster, startRedisCluster, testPort } from '../helpers/redis-server.js';

interface Subject {
  name: string;
  ports: [number, number, number];
  connect(nodes: RedisCluster['nodes']): Promise<{ client: RedisClient; close(): Promise<void> }>;
}

const subjects: Subject[] = [
  {
    name: 'an ioredis Cluster at its defaults',
    ports: [testPort(17131), testPort(17132), testPort(17133)],
    async connect(nodes) {
      const client = new Cluster(nodes);
      client.on('error', () => {});
      await client.ping();
      return { client, close: async () => client.disconnect() };
    },
  },
  {
    name: 'a node-redis cluster at its defaults',
    ports: [testPort(17134), testPort(17135), testPort(17136)],
    async connect(nodes) {
      const client = createCluster({
        rootNodes: nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
      });
      client.on('error', () => {});
      await client.connect();
      return { client, close: async () => client.destroy() };
    },
  },
];

/** A hash tag whose slot the master on `port` serves (asked to Redis itself). */
async function tagServedBy(port: number): Promise<string> {
  const admin = new Redis({ host: '127.0.0.1', port });
  try {
    const ranges = (await admin.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    for (let i = 0; ; i++) {
      const slot = (await admin.call('CLUSTER', 'KEYSLOT', `t${i}`)) as number;
      if (ranges.some(([from, to, [, owner]]) => owner === port && slot >= from && slot <= to))
        return `{t${i}}`;
    }
  } finally {
    admin.disconnect();
  }
}

describe.each(subjects)('RedisBackend over $name when a master dies', (subject) => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(subject.ports);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('writes in flight on the killed master fail at once; the other masters keep serving', async () => {
    const app = await subject.connect(cluster.nodes);
    // A deadline nobody reaches in this test: every failure seen is event-driven.
    const backend = new RedisBackend(app.client, { commandTimeout: 60, cooldown: 0 });
    const [doomed, alive] = await Promise.all([tagServedBy(subject.ports[0]), tagServedBy(subject.ports[1])]);
    const prefix = `cluster-faults-${randomUUID().slice(0, 8)}`;
    await backend.set(`${prefix}:${doomed}:warm`, 'v', 60);
    await backend.set(`${prefix}:${alive}:warm`, 'v', 60);

    const victim = cluster.servers[0]!;
    victim.process.kill('SIGSTOP');
    const inFlight = Array.from({ length: 100 }, (_, i) =>
      backend.set(`${prefix}:${doomed}:${i}`, 'late', 600).then(
        () => 'stored',
        (error: unknown) => (error instanceof RedisBackendError ? error.reason : String(error)),
      ),
    );
    await new Promise((resolve) => setImmediate(resolve)); // written to the frozen master's socket
    await killNow(victim);

    expect(await Promise.all(inFlight)).toEqual(Array(100).fill('disconnected'));
    await backend.set(`${prefix}:${alive}:after`, 'still here', 60);
    expect(await backend.get(`${prefix}:${alive}:after`)).toBe('still here');
    await backend.close();
    await app.close();
  });
});
