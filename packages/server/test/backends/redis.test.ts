import { randomUUID } from 'node:crypto';
import { registerBackendSuite } from '@trpc-memory/server/test-suite';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisBackend } from '../../src/backends/redis.js';
import { type CacheErrorEvent, createCache } from '../../src/cache/cache.js';
import { coreOf } from '../../src/cache/cache-internals.js';
import { CodecError, InvalidOptionError, RedisBackendError } from '../../src/errors.js';
import {
  closedPort,
  patient,
  type RedisServer,
  startRedisServer,
  testPort,
} from '../helpers/redis-server.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Ports reserved for this file.
const PRIVATE_PORT = testPort(17111);
const CLOCK_PORT = testPort(17112);

const unique = (label: string) => `redis-test-${label}-${randomUUID().slice(0, 8)}`;

function recorder() {
  const events: CacheErrorEvent[] = [];
  return { events, onError: (event: CacheErrorEvent) => events.push(event) };
}

const suiteApi = { describe, it, expect, beforeAll, afterAll };

registerBackendSuite(suiteApi, {
  name: 'RedisBackend from a URL',
  make: () => new RedisBackend(REDIS_URL, patient),
});

let ownClient: Redis | undefined;
registerBackendSuite(suiteApi, {
  name: 'RedisBackend on your ioredis client',
  make: () => {
    ownClient = new Redis(REDIS_URL);
    return new RedisBackend(ownClient, patient);
  },
  dispose: async () => {
    await ownClient?.quit();
  },
});

describe('RedisBackend', () => {
  let shared: Redis;
  beforeAll(() => {
    shared = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await shared.quit();
  });

  it('lets Redis expire entries (SET … PX)', async () => {
    const backend = new RedisBackend(REDIS_URL, patient);
    const prefix = unique('ttl');
    const cache = createCache(backend, { prefix });
    await cache.set('k', 1, { expire: 600 });
    await cache.set('forever', 1);
    const ttl = await shared.pttl(`${prefix}:k`);
    // Real Redis time, read after the write: at most the expire, and no machine is 5 minutes slow.
    expect(ttl).toBeGreaterThan(300_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    expect(await shared.pttl(`${prefix}:forever`)).toBe(-1);
    await cache.clear();
    await backend.close();
  });

  it('reads a corrupt entry as a miss and reports it', async () => {
    const backend = new RedisBackend(REDIS_URL, patient);
    const { events, onError } = recorder();
    const prefix = unique('corrupt');
    const cache = createCache(backend, { prefix, onError });
    await shared.set(`${prefix}:k`, '{"written":"by someone else"}', 'EX', 10);
    expect(await cache.get('k')).toBeUndefined();
    expect(events).toMatchObject([{ operation: 'decode', key: `${prefix}:k`, backend: 'redis' }]);
    expect(events[0]!.error).toBeInstanceOf(CodecError);
    await backend.close();
  });

  it("clears through a client's ioredis keyPrefix without touching other keys", async () => {
    const keyPrefix = `${unique('kp')}:`;
    const client = new Redis(REDIS_URL, { keyPrefix });
    const backend = new RedisBackend(client, { ...patient, scanCount: 10 });
    const cache = createCache(backend, { prefix: 'app' });
    await Promise.all(Array.from({ length: 50 }, (_, i) => cache.set(`n:${i}`, i, { expire: 10 })));
    await cache.set('other', 1, { expire: 10 });
    expect(await shared.get(`${keyPrefix}app:n:7`)).not.toBeNull();
    await cache.clear({ namespace: 'n' });
    expect(await shared.exists(`${keyPrefix}app:n:7`)).toBe(0);
    expect(await cache.get('other')).toBe(1);
    await backend.close();
    await client.quit();
  });

  it('clears through an ioredis keyPrefix with glob characters (tenant[1]:), and only under it', async () => {
    const tenant = `${unique('tenant')}[1]*?\\:`;
    const client = new Redis(REDIS_URL, { keyPrefix: tenant });
    // `tenant[1]` as a glob would match this neighbour's keys, and not its own.
    const neighbour = new Redis(REDIS_URL, { keyPrefix: tenant.replace('[1]', '1') });
    const backend = new RedisBackend(client, { ...patient, scanCount: 10 });
    const other = new RedisBackend(neighbour, patient);
    const cache = createCache(backend, { prefix: 'app' });
    const beside = createCache(other, { prefix: 'app' });
    await Promise.all(Array.from({ length: 50 }, (_, i) => cache.set(`n:${i}`, i, { expire: 10 })));
    await beside.set('n:1', 'neighbour', { expire: 10 });
    expect(await shared.exists(`${tenant}app:n:7`)).toBe(1);
    await cache.clear();
    expect(await shared.keys(`${tenant.replace(/[*?[\]\\]/g, '\\$&')}*`)).toEqual([]);
    expect(await beside.get('n:1')).toBe('neighbour');
    await beside.clear();
    await Promise.all([backend.close(), other.close()]);
    await Promise.all([client.quit(), neighbour.quit()]);
  });

  it('close() quits the client it made from the URL, not the one it was given', async () => {
    const owned = new RedisBackend(REDIS_URL, patient);
    const cache = createCache(owned, { onError: () => {} });
    await cache.set(unique('c'), 1, { expire: 1 });
    await owned.close();
    expect((owned.client as Redis).status).toBe('end');
    expect(await cache.get('k')).toBeUndefined(); // a closed backend reads as a miss

    const client = new Redis(REDIS_URL);
    const given = new RedisBackend(client, patient);
    await given.get('x');
    await given.close();
    expect(client.status).toBe('ready');
    await expect(given.get('x')).rejects.toMatchObject({ reason: 'closed' });
    await client.quit();
  });

  it('rejects bad arguments naming the option, the value and what is allowed', () => {
    expect(() => new RedisBackend('http://127.0.0.1:6379')).toThrow(
      /new RedisBackend\(\): option "client" must be an ioredis Redis or Cluster, a node-redis v5 client or cluster, or a redis:\/\/ URL/,
    );
    expect(() => new RedisBackend({} as Redis)).toThrow(InvalidOptionError);
    expect(() => new RedisBackend(REDIS_URL, { commandTimeout: 0 })).toThrow(
      /"commandTimeout" must be a finite number of seconds > 0/,
    );
    expect(() => new RedisBackend(REDIS_URL, { cooldown: -1 })).toThrow(/"cooldown"/);
    expect(() => new RedisBackend(REDIS_URL, { scanCount: 0.5 })).toThrow(/"scanCount"/);
  });
});

describe('RedisBackend fails open', () => {
  // commandTimeout 60 s: a failure seen within the test is the event-driven kind, never the deadline.
  it('on a closed port: reads miss and writes skip at once, nothing is queued, clear() rejects', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const { events, onError } = recorder();
    const backend = new RedisBackend(url, { commandTimeout: 60 });
    const cache = createCache(backend, { onError });
    const result = [
      await coreOf(cache).read('k'),
      await coreOf(cache).write('k', { a: 1 }, 10),
      await cache.get('k'),
      await cache.set('k', 1),
    ];
    expect(result).toEqual([undefined, null, undefined, undefined]);
    expect(events.map((event) => event.operation)).toEqual(['get', 'set', 'get', 'set']);
    expect(events.map((event) => (event.error as RedisBackendError).reason)).toEqual(
      Array(4).fill('unavailable'),
    );
    expect((events.at(-1)!.error as Error).message).toMatch(/ECONNREFUSED/);
    await expect(cache.clear()).rejects.toBeInstanceOf(RedisBackendError);
    await backend.close();
  });

  it('on a closed port with your client at ioredis defaults (offline queue on, 20 retries): nothing piles up', async () => {
    const port = await closedPort();
    const client = new Redis({ port, host: '127.0.0.1' });
    client.on('error', () => {}); // the application's own handler
    const { events, onError } = recorder();
    const backend = new RedisBackend(client, { commandTimeout: 60 });
    const cache = createCache(backend, { onError });
    const result = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        i % 2 ? cache.get(`k${i}`) : coreOf(cache).write(`k${i}`, i, 10),
      ),
    );
    expect(result.filter((value) => value !== undefined && value !== null)).toEqual([]);
    expect(events.map((event) => (event.error as RedisBackendError).reason)).toEqual(
      Array(100).fill('unavailable'),
    );
    expect((client as unknown as { offlineQueue: { length: number } }).offlineQueue.length).toBe(0);
    await backend.close();
    client.disconnect();
  });

  it('your client already reconnecting when handed over: commands fail at once, not after commandTimeout', async () => {
    const port = await closedPort();
    // The next reconnection attempt is far off: nothing but the client's status says it is down.
    const client = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 60_000 });
    client.on('error', () => {});
    await vi.waitFor(() => expect(client.status).toBe('reconnecting'));
    const { events, onError } = recorder();
    const backend = new RedisBackend(client, { commandTimeout: 60, cooldown: 0 });
    const cache = createCache(backend, { onError });
    expect(await cache.get('k')).toBeUndefined();
    expect(events.map((event) => (event.error as RedisBackendError).reason)).toEqual(['unavailable']);
    await backend.close();
    client.disconnect();
  });

  it('your client already quit when handed over: the backend reports it closed', async () => {
    const client = new Redis(REDIS_URL);
    await client.quit();
    const backend = new RedisBackend(client, patient);
    await expect(backend.get('k')).rejects.toMatchObject({ reason: 'closed' });
    await backend.close();
  });

  it('your client quitting later (at shutdown) ends the connection the backend made from it', async () => {
    const client = new Redis(REDIS_URL);
    const backend = new RedisBackend(client, patient);
    expect(await backend.get(unique('absent'))).toBeUndefined();
    await client.quit();
    await vi.waitFor(() => expect(backend.get('k')).rejects.toMatchObject({ reason: 'closed' }));
    await backend.close();
  });

  describe('against a private Redis that stalls', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await startRedisServer(PRIVATE_PORT);
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('a paused Redis (CLIENT PAUSE): a read times out after commandTimeout, then cools down', async () => {
      const { events, onError } = recorder();
      // A cooldown long enough that the next call surely falls in it, however busy the machine.
      const backend = new RedisBackend(server.url, { commandTimeout: 0.2, cooldown: 2 });
      const cache = createCache(backend, { onError });
      await cache.set('k', 'v');
      expect(await cache.get('k')).toBe('v');

      const admin = new Redis(server.url);
      await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');
      expect(await cache.get('k')).toBeUndefined();
      expect(events).toHaveLength(1);
      expect(events[0]!.error).toMatchObject({ reason: 'timeout' });

      // Within the cooldown nothing is sent: the next read misses at once.
      expect(await cache.get('k')).toBeUndefined();
      expect(events[1]!.error).toMatchObject({ reason: 'unavailable' });

      // Once the pause and the cooldown are over, it serves again.
      await vi.waitFor(async () => expect(await cache.get('k')).toBe('v'), { timeout: 5_000, interval: 50 });
      admin.disconnect();
      await backend.close();
    });
  });
});

describe('RedisBackend deadlines run on the monotonic clock, not the wall clock', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer(CLOCK_PORT);
  });
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const clients = [
    {
      name: 'ioredis',
      async connect(url: string) {
        const client = new Redis(url);
        return { client, close: async () => client.disconnect() };
      },
    },
    {
      name: 'node-redis',
      async connect(url: string) {
        const client = createClient({ url });
        await client.connect();
        return { client, close: async () => void (await client.close()) };
      },
    },
  ] as const;

  for (const { name, connect } of clients) {
    it(`${name}: after the wall clock steps back an hour, commands still succeed and a stalled Redis still times out`, async () => {
      const app = await connect(server.url);
      const commandTimeout = 0.2;
      const backend = new RedisBackend(app.client, { commandTimeout, cooldown: 0.2 });
      const key = unique(`clock-${name}`);
      try {
        await backend.set(key, 'before');
        // Only Date is faked (timers and performance.now() stay real): the wall clock stands
        // still, then steps back an hour, as after an NTP correction.
        vi.useFakeTimers({ toFake: ['Date'] });
        vi.setSystemTime(Date.now() - 3_600_000);
        // Commands keep working across several deadline periods of real time (on the wall
        // clock, they all joined one deadline slice, given up once its timer fired).
        const spanMs = 3 * (commandTimeout * 1000 * 1.1);
        const from = performance.now();
        let rounds = 0;
        while (performance.now() - from < spanMs || rounds < 3) {
          await backend.set(key, `v${rounds}`, 600);
          expect(await backend.get(key)).toBe(`v${rounds}`);
          rounds++;
        }

        // Frozen Redis: a command is still given up after commandTimeout.
        server.process.kill('SIGSTOP');
        try {
          const started = performance.now();
          const guard = new Promise<'no deadline'>((resolve) =>
            setTimeout(resolve, 15_000, 'no deadline').unref(),
          );
          const outcome = await Promise.race([
            backend.get(key).then(
              () => 'answered',
              (error: unknown) => error,
            ),
            guard,
          ]);
          expect(outcome).toBeInstanceOf(RedisBackendError);
          expect(outcome).toMatchObject({ reason: 'timeout' });
          expect(performance.now() - started).toBeGreaterThanOrEqual(commandTimeout * 1000 - 1);
        } finally {
          server.process.kill('SIGCONT');
        }
        // The cooldown ends in real time too, though the wall clock has not moved since.
        await vi.waitFor(async () => expect(await backend.get(key)).toBe(`v${rounds - 1}`), {
          timeout: 10_000,
          interval: 50,
        });
      } finally {
        await backend.close();
        await app.close();
      }
    });
  }
});
