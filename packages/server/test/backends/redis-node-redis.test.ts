import { randomUUID } from 'node:crypto';
import { registerBackendSuite } from '@trpc-memory/server/test-suite';
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster, RESP_TYPES } from 'redis';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { RedisBackend } from '../../src/backends/redis.js';
import { clientKind, type RedisClient } from '../../src/backends/redis-clients.js';
import { createCache } from '../../src/cache/cache.js';
import { InvalidOptionError, RedisBackendError } from '../../src/errors.js';
import { closedPort, patient } from '../helpers/redis-server.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const unique = (label: string) => `node-redis-test-${label}-${randomUUID().slice(0, 8)}`;

const suiteApi = { describe, it, expect, beforeAll, afterAll };

let appClient: ReturnType<typeof createClient> | undefined;
registerBackendSuite(suiteApi, {
  name: 'RedisBackend on your node-redis client',
  make: async () => {
    appClient = createClient({ url: REDIS_URL });
    await appClient.connect();
    return new RedisBackend(appClient, patient);
  },
  dispose: () => appClient?.destroy(),
});

registerBackendSuite(suiteApi, {
  name: 'RedisBackend on a node-redis RESP3 client whose replies default to Buffers',
  // Never connected by the app: the backend's own connection does not need it to be.
  make: () =>
    new RedisBackend(
      createClient({
        url: REDIS_URL,
        RESP: 3,
        commandOptions: { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } },
      }),
      patient,
    ),
});

describe('RedisBackend on node-redis', () => {
  it('tells the client kinds apart by shape (an app may hold another copy of either library), typed', () => {
    const ioredis = new Redis({ lazyConnect: true });
    const ioCluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    const nodeRedis = createClient({ url: REDIS_URL });
    const nodeCluster = createCluster({ rootNodes: [{ url: REDIS_URL }] });
    expect([ioredis, ioCluster, nodeRedis, nodeCluster].map(clientKind)).toEqual([
      'ioredis',
      'ioredis-cluster',
      'node-redis',
      'node-redis-cluster',
    ]);
    // A lookalike from a copy of node-redis: only its shape, no class in common.
    expect(clientKind({ isOpen: false, isReady: false, duplicate() {}, sendCommand() {} })).toBe(
      'node-redis',
    );
    expect(
      [{}, null, 'redis', { status: 'ready' }, { isOpen: true, sendCommand() {} }].map(clientKind),
    ).toEqual(Array(5).fill(undefined));
    expect(() => new RedisBackend({ isOpen: true } as unknown as RedisClient)).toThrow(InvalidOptionError);

    expectTypeOf(ioredis).toExtend<RedisClient>();
    expectTypeOf(ioCluster).toExtend<RedisClient>();
    expectTypeOf(nodeRedis).toExtend<RedisClient>();
    expectTypeOf(nodeCluster).toExtend<RedisClient>();
    expectTypeOf<RedisBackend<typeof nodeRedis>['client']>().toEqualTypeOf(nodeRedis);
    expectTypeOf<RedisBackend<Redis>['client']>().toEqualTypeOf<Redis>();
    // @ts-expect-error a plain object is not a client
    expect(() => new RedisBackend({ get: () => null })).toThrow(InvalidOptionError);
    ioredis.disconnect();
    ioCluster.disconnect();
  });

  let shared: Redis;
  beforeAll(() => {
    shared = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await shared.quit();
  });

  it('writes what any client reads: the same key, value and PX expiry as over ioredis', async () => {
    const client = createClient({ url: REDIS_URL });
    const backend = new RedisBackend(client, patient);
    const prefix = unique('ttl');
    const cache = createCache(backend, { prefix });
    await cache.set('k', { at: new Date(0) }, { expire: 600 });
    const ttl = await shared.pttl(`${prefix}:k`);
    // Real Redis time, read after the write: at most the expire, and no machine is 5 minutes slow.
    expect(ttl).toBeGreaterThan(300_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    // Written through node-redis, read back through ioredis' backend: one codec.
    const other = new RedisBackend(REDIS_URL, patient);
    expect(await createCache(other, { prefix }).get('k')).toStrictEqual({ at: new Date(0) });
    await cache.clear();
    await Promise.all([backend.close(), other.close()]);
  });

  it('close() ends its own connection and leaves yours open; yours closing closes the backend', async () => {
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    const first = new RedisBackend(client, patient);
    await first.set(unique('k'), 'v', 5);
    await first.close();
    expect(client.isReady).toBe(true);
    await expect(first.get('x')).rejects.toMatchObject({ reason: 'closed' });

    const second = new RedisBackend(client, patient);
    expect(await second.get(unique('absent'))).toBeUndefined();
    client.destroy();
    await vi.waitFor(() => expect(second.get('x')).rejects.toMatchObject({ reason: 'closed' }));
    await second.close();
  });

  it('on a closed port: commands fail at once as unavailable, nothing is queued, clear() rejects', async () => {
    const client = createClient({ url: `redis://127.0.0.1:${await closedPort()}` });
    client.on('error', () => {});
    const backend = new RedisBackend(client, { commandTimeout: 60 });
    // The first connection attempt is refused: from then on, misses without waiting.
    await vi.waitFor(() => expect(backend.get('k')).rejects.toMatchObject({ reason: 'unavailable' }));
    const settled = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? backend.get(`k${i}`) : backend.set(`k${i}`, 'v', 10))),
    );
    expect(
      settled.every(
        (result) =>
          result.status === 'rejected' &&
          result.reason instanceof RedisBackendError &&
          result.reason.reason === 'unavailable',
      ),
    ).toBe(true);
    await expect(backend.deleteByPrefix('k')).rejects.toBeInstanceOf(RedisBackendError);
    await backend.close();
  });
});
