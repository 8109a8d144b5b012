/**
 * Redis killed, stalled and restarted under the backend, for every way of
 * giving it a client: a URL, an ioredis client and a node-redis client, both on
 * their libraries' defaults (offline queue on, re-sending on). Each subject has
 * a private redis-server of its own.
 */

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisBackend } from '../../src/backends/redis.js';
import type { RedisClient } from '../../src/backends/redis-clients.js';
import { type CacheErrorEvent, createCache } from '../../src/cache/cache.js';
import { coreOf } from '../../src/cache/cache-internals.js';
import { RedisBackendError } from '../../src/errors.js';
import { killNow, type RedisServer, startRedisServer, testPort } from '../helpers/redis-server.js';

/** What the app does with its own client while the backend shares it. */
interface AppClient {
  client: RedisClient | string;
  /** An app write on the app's own client, at its library's defaults. */
  write?(key: string): Promise<unknown>;
  /** Whether the app's client sees itself connected. */
  ready(): boolean;
  close(): Promise<void>;
}

interface Subject {
  name: string;
  port: number;
  connect(url: string): Promise<AppClient>;
  /**
   * What the client library itself does on its defaults with writes around an
   * outage, shown on the app's own client so the test proves it would have
   * caught a late write: `'in flight'` (ioredis re-sends commands cut off by
   * the disconnect) or `'queued'` (node-redis sends what it queued while down).
   */
  lateWrites?: 'in flight' | 'queued';
}

const subjects: Subject[] = [
  {
    name: 'a redis:// URL',
    port: testPort(17121),
    connect: async (url) => ({ client: url, ready: () => true, close: async () => {} }),
  },
  {
    name: 'an ioredis client at its defaults',
    port: testPort(17122),
    lateWrites: 'in flight',
    async connect(url) {
      const client = new Redis(url);
      client.on('error', () => {}); // the application's own handler
      await client.ping();
      return {
        client,
        write: (key) => client.set(key, 'app', 'EX', 600),
        ready: () => client.status === 'ready',
        close: async () => client.disconnect(),
      };
    },
  },
  {
    name: 'a node-redis client at its defaults',
    port: testPort(17123),
    lateWrites: 'queued',
    async connect(url) {
      const client = createClient({ url });
      client.on('error', () => {});
      await client.connect();
      return {
        client,
        write: (key) => client.set(key, 'app', { expiration: { type: 'EX', value: 600 } }),
        ready: () => client.isReady,
        close: async () => client.destroy(),
      };
    },
  },
];

const reasons = (settled: unknown[]) =>
  settled.map((result) => (result instanceof RedisBackendError ? result.reason : String(result)));
const count = <T>(items: T[], item: T) => items.filter((each) => each === item).length;
/** Lets the clients write what they were given (node-redis writes on setImmediate). */
const flushWrites = () => new Promise((resolve) => setImmediate(resolve));

async function keysOf(url: string, pattern: string): Promise<string[]> {
  const admin = new Redis(url);
  try {
    return await admin.keys(pattern);
  } finally {
    admin.disconnect();
  }
}

describe.each(subjects)('RedisBackend over $name when Redis dies or stalls', (subject) => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer(subject.port);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('killed with writes in flight and restarted on the same port: they fail at once and none of them lands', async () => {
    const app = await subject.connect(server.url);
    // A deadline nobody reaches in this test: every failure seen is event-driven.
    const backend = new RedisBackend(app.client, { commandTimeout: 60, cooldown: 0 });
    const prefix = `faults-${randomUUID().slice(0, 8)}`;
    const cache = createCache(backend, { prefix, onError: () => {} });
    await cache.set('warm', 1);
    expect(await cache.get('warm')).toBe(1);

    // Frozen, Redis takes the writes into its socket buffer and never answers them.
    server.process.kill('SIGSTOP');
    const inFlight = Array.from({ length: 200 }, (_, i) =>
      backend.set(`${prefix}:in-flight:${i}`, 'late', 600).then(
        () => 'stored',
        (error: unknown) => error,
      ),
    );
    const appInFlight =
      subject.lateWrites === 'in flight'
        ? Array.from({ length: 20 }, (_, i) => app.write!(`${prefix}:app-in-flight:${i}`).catch(() => {}))
        : [];
    await flushWrites();
    await killNow(server); // dies without ever reading them

    expect(count(reasons(await Promise.all(inFlight)), 'disconnected')).toBe(200);
    // While Redis is down: refused at once, nothing queued.
    const whileDown = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        backend.set(`${prefix}:while-down:${i}`, 'late', 600).then(
          () => 'stored',
          (error: unknown) => error,
        ),
      ),
    );
    expect(count(reasons(whileDown), 'unavailable')).toBe(200);
    const appQueued: Promise<unknown>[] = [];
    if (subject.lateWrites === 'queued') {
      // Once the app's own (idle) connection has noticed too, its writes go to its offline queue.
      await vi.waitFor(() => expect(app.ready()).toBe(false));
      for (let i = 0; i < 20; i++) appQueued.push(app.write!(`${prefix}:app-queued:${i}`).catch(() => {}));
    }

    await server.stop();
    server = await startRedisServer(subject.port);

    // The library's own late writes, on the app's client: by the time they have
    // landed, any of the backend's would have too.
    if (subject.lateWrites !== undefined) {
      await Promise.all([...appInFlight, ...appQueued]);
      await vi.waitFor(async () => expect(await keysOf(server.url, `${prefix}:app-*`)).toHaveLength(20), {
        timeout: 15_000,
        interval: 50,
      });
    }
    await vi.waitFor(
      async () => {
        await cache.set('after', 'restart');
        expect(await cache.get('after')).toBe('restart');
      },
      { timeout: 15_000, interval: 50 },
    );
    expect(await keysOf(server.url, `${prefix}:in-flight:*`)).toEqual([]);
    expect(await keysOf(server.url, `${prefix}:while-down:*`)).toEqual([]);

    await backend.close();
    await app.close();
  });

  it('in-flight reads fail at once when the connection drops, then read again once Redis is back', async () => {
    const app = await subject.connect(server.url);
    const backend = new RedisBackend(app.client, { commandTimeout: 60, cooldown: 0 });
    const key = `faults-${randomUUID().slice(0, 8)}`;
    await backend.set(key, 'before');
    server.process.kill('SIGSTOP');
    const reads = Array.from({ length: 50 }, () => backend.get(key).catch((error: unknown) => error));
    await flushWrites();
    await killNow(server); // dies without ever reading them
    expect(count(reasons(await Promise.all(reads)), 'disconnected')).toBe(50);
    await expect(backend.get(key)).rejects.toMatchObject({ reason: 'unavailable' });

    await server.stop();
    server = await startRedisServer(subject.port);
    await vi.waitFor(
      async () => {
        await backend.set(key, 'after');
        expect(await backend.get(key)).toBe('after');
      },
      { timeout: 15_000, interval: 50 },
    );
    await backend.close();
    await app.close();
  });

  it('a frozen Redis (SIGSTOP): a command times out, the next ones skip Redis during the cooldown, then it serves again', async () => {
    const app = await subject.connect(server.url);
    const events: CacheErrorEvent[] = [];
    // A cooldown long enough that the next call surely falls in it, however busy the machine.
    const backend = new RedisBackend(app.client, { commandTimeout: 0.2, cooldown: 2 });
    const cache = createCache(backend, {
      prefix: `faults-${randomUUID().slice(0, 8)}`,
      onError: (e) => events.push(e),
    });
    await cache.set('frozen', 1);
    server.process.kill('SIGSTOP');
    try {
      expect(await cache.get('frozen')).toBeUndefined();
      expect(await coreOf(cache).write('x', 1, 5)).toBeNull();
      expect(events.map((event) => (event.error as RedisBackendError).reason)).toEqual([
        'timeout',
        'unavailable',
      ]);
    } finally {
      server.process.kill('SIGCONT');
    }
    await vi.waitFor(async () => expect(await cache.get('frozen')).toBe(1), {
      timeout: 10_000,
      interval: 50,
    });
    await backend.close();
    await app.close();
  });
});
