/**
 * TieredBackend in one process against real Redis: the backend contract, the L1
 * fill bounded by the L2 entry's remaining TTL (on a faked Date), the bus
 * between instances, the bus-loss bound when the subscriber is cut off, a
 * stalled Redis that must not stall L1 hits, and hostile messages on the channel.
 */
import { randomUUID } from 'node:crypto';
import { registerBackendSuite } from '@trpc-memory/server/test-suite';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisBackend } from '../../src/backends/redis.js';
import { TieredBackend } from '../../src/backends/tiered.js';
import { decodeMessage, encodeMessage } from '../../src/backends/tiered-bus.js';
import { createCache } from '../../src/cache/cache.js';
import { CacheManager, initCache } from '../../src/cache/manager.js';
import { InvalidOptionError, RedisBackendError } from '../../src/errors.js';
import { memorizeFn } from '../../src/middleware/memorize-fn.js';
import { killNow, patient, type RedisServer, startRedisServer, testPort } from '../helpers/redis-server.js';
import { until } from '../helpers/time.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const unique = (label = 'k') => `tiered-${randomUUID().slice(0, 8)}-${label}`;
/** Each test its own channel: test files run in parallel against one Redis. */
const channel = () => `tiered-test-${randomUUID()}`;

const open: TieredBackend[] = [];
function tiered(...args: ConstructorParameters<typeof TieredBackend>): TieredBackend {
  const backend = new TieredBackend(...args);
  open.push(backend);
  return backend;
}
afterAll(async () => {
  await Promise.all(open.map((backend) => backend.close()));
});

/**
 * Reads `key` until L1 holds it: a read whose key was invalidated while it was in
 * flight (the writer's own message arriving after it left) does not fill L1.
 */
async function filled(backend: TieredBackend, key: string): Promise<void> {
  for (let i = 0; i < 1_000 && !backend.hasInL1(key); i++) await backend.get(key);
  expect(backend.hasInL1(key)).toBe(true);
}

async function busUp(...backends: TieredBackend[]): Promise<void> {
  await until(() => backends.every((backend) => backend.busUp), { what: 'the bus came up' });
}

registerBackendSuite(
  { describe, it, expect, beforeAll, afterAll },
  {
    name: 'TieredBackend over a redis:// URL',
    make: () => new TieredBackend(REDIS_URL, { ...patient, channel: channel() }),
  },
);

describe('TieredBackend options', () => {
  it('rejects bad options at construction', () => {
    for (const options of [
      { busLossTtl: 0 },
      { busLossTtl: -1 },
      { busLossTtl: Number.POSITIVE_INFINITY },
      { channel: '' },
      { l1: { maxEntries: 0 } },
      { l1: { maxBytes: 1.5 } },
      { commandTimeout: 0 },
    ]) {
      expect(() => new TieredBackend(REDIS_URL, options as never)).toThrow(InvalidOptionError);
    }
    expect(() => new TieredBackend('http://nope' as never)).toThrow(InvalidOptionError);
  });

  it('takes a RedisBackend as its L2 (left open by close), but not with Redis options of its own', async () => {
    const l2 = new RedisBackend(REDIS_URL, patient);
    expect(() => new TieredBackend(l2, { commandTimeout: 1 })).toThrow(InvalidOptionError);
    const backend = new TieredBackend(l2, { channel: channel() });
    expect(backend.l2).toBe(l2);
    const key = unique();
    await backend.set(key, 'v', 60);
    await backend.close();
    expect(await l2.get(key)).toBe('v');
    await l2.close();
  });
});

describe('initCache with l1', () => {
  afterEach(async () => {
    await CacheManager.close();
  });

  it('makes a TieredBackend with those bounds, closed when replaced', async () => {
    const cache = await initCache({ backend: 'redis', url: REDIS_URL, l1: { maxEntries: 2 }, busLossTtl: 1 });
    const backend = cache.backend as TieredBackend;
    expect(backend.name).toBe('tiered');
    expect(backend.l2.name).toBe('redis');
    await busUp(backend);
    for (const key of ['a', 'b', 'c']) await CacheManager.set(`${unique()}-${key}`, key, { expire: 60 });
    expect(backend.l1Size).toBe(2);
  });

  it('without l1 stays a plain RedisBackend; a bad l1 throws before connecting', async () => {
    const cache = await initCache({ backend: 'redis', url: REDIS_URL });
    expect(cache.backend.name).toBe('redis');
    await expect(initCache({ backend: 'redis', url: REDIS_URL, l1: { maxEntries: -1 } })).rejects.toThrow(
      InvalidOptionError,
    );
  });
});

describe('the L1 fill', () => {
  let raw: Redis;
  beforeAll(() => {
    raw = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await raw.quit();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds an entry read from L2 for its remaining TTL in Redis, never longer', async () => {
    // Only Date is faked: the bus' heartbeats and Redis' own expiry run in real time.
    vi.useFakeTimers({ toFake: ['Date'] });
    const backend = tiered(REDIS_URL, { ...patient, channel: channel(), busLossTtl: 600 });
    await busUp(backend);
    const key = unique();
    await raw.set(key, 'from-l2', 'PX', 10_000);
    const start = Date.now();
    const before = await raw.pttl(key);
    expect(await backend.get(key)).toBe('from-l2');
    const after = await raw.pttl(key);
    expect(backend.hasInL1(key)).toBe(true);
    // L1 expires at `start + PTTL as Redis counted it`, which lies between these two readings.
    vi.setSystemTime(start + after - 1);
    expect(backend.hasInL1(key)).toBe(true);
    vi.setSystemTime(start + before);
    expect(backend.hasInL1(key)).toBe(false);
    expect(await raw.get(key)).toBe('from-l2'); // still in Redis in real time: L1 went first
  });

  it('holds what it sets for exactly the TTL given, and an entry without expiry in L2 without expiry', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const backend = tiered(REDIS_URL, { ...patient, channel: channel(), busLossTtl: 600 });
    await busUp(backend);
    const key = unique();
    const start = Date.now();
    await backend.set(key, 'set', 10);
    vi.setSystemTime(start + 9_999);
    expect(backend.get(key)).toBe('set'); // synchronously, from L1
    vi.setSystemTime(start + 10_000);
    expect(backend.hasInL1(key)).toBe(false);

    const forever = unique();
    await raw.set(forever, 'forever');
    expect(await backend.get(forever)).toBe('forever');
    vi.setSystemTime(start + 365 * 86_400_000);
    expect(backend.get(forever)).toBe('forever');
    await raw.del(forever);
  });

  it('does not fill L1 with a value invalidated while its read was in flight', async () => {
    const a = tiered(REDIS_URL, { ...patient, channel: channel() });
    const key = unique();
    await busUp(a);
    await raw.set(key, 'old', 'EX', 60);
    // The read leaves first; the local write lands before its answer is used.
    const read = a.get(key);
    const write = a.set(key, 'new', 60);
    expect(await read).toBe('old');
    await write;
    expect(a.get(key)).toBe('new');
  });
});

describe('the bus between instances', () => {
  it('drops the other instances’ copies on set, delete and deleteByPrefix, and ignores its own messages', async () => {
    const bus = channel();
    const [a, b, c] = [0, 1, 2].map(() => tiered(REDIS_URL, { ...patient, channel: bus })) as [
      TieredBackend,
      TieredBackend,
      TieredBackend,
    ];
    await busUp(a, b, c);
    const ns = unique('ns');
    const key = `${ns}:one`;
    const other = `${ns}:two`;
    await a.set(key, 'v1', 60);
    await a.set(other, 'w1', 60);
    expect(await b.get(key)).toBe('v1');
    expect(await c.get(key)).toBe('v1');
    expect(await c.get(other)).toBe('w1');
    for (const [backend, k] of [
      [b, key],
      [c, key],
      [c, other],
    ] as const) {
      await filled(backend, k);
    }

    await a.set(key, 'v2', 60);
    await until(() => !b.hasInL1(key) && !c.hasInL1(key), { what: 'b and c dropped the key' });
    expect(a.hasInL1(key)).toBe(true); // its own message did not drop its fresh copy
    expect(c.hasInL1(other)).toBe(true); // nor did anyone drop another key
    expect(await b.get(key)).toBe('v2');

    await filled(b, key);
    await c.delete(key);
    await until(() => !a.hasInL1(key) && !b.hasInL1(key), { what: 'a and b dropped the deleted key' });
    expect(await a.get(key)).toBeUndefined();

    await b.deleteByPrefix(`${ns}:`);
    await until(() => !c.hasInL1(other) && !a.hasInL1(other), { what: 'the prefix was dropped' });
    expect(await a.get(other)).toBeUndefined();
  });

  it('carries keys, never values', async () => {
    const bus = channel();
    const listener = new Redis(REDIS_URL);
    const heard: string[] = [];
    listener.on('message', (_channel: string, text: string) => heard.push(text));
    await listener.subscribe(bus);
    const a = tiered(REDIS_URL, { ...patient, channel: bus });
    await busUp(a);
    const key = unique();
    await a.set(key, 'a-secret-value', 60);
    await a.delete(key);
    await until(() => heard.filter((text) => decodeMessage(text)?.op === 'k').length === 2, {
      what: 'two invalidations heard',
    });
    expect(heard.some((text) => text.includes('a-secret-value'))).toBe(false);
    expect(
      heard.filter((text) => decodeMessage(text)?.op === 'k').map((text) => decodeMessage(text)?.target),
    ).toEqual([key, key]);
    await listener.quit();
  });

  it('works over node-redis clients too', async () => {
    const bus = channel();
    const clients = [createClient({ url: REDIS_URL }), createClient({ url: REDIS_URL })];
    await Promise.all(clients.map((client) => client.connect()));
    const [a, b] = clients.map((client) => tiered(client, { ...patient, channel: bus })) as [
      TieredBackend,
      TieredBackend,
    ];
    await busUp(a, b);
    const key = unique();
    await a.set(key, 'v1', 60);
    expect(await b.get(key)).toBe('v1');
    await filled(b, key);
    await a.set(key, 'v2', 60);
    await until(() => !b.hasInL1(key), { what: 'b dropped the key' });
    expect(await b.get(key)).toBe('v2');
    await Promise.all([a.close(), b.close()]);
    await Promise.all(clients.map((client) => client.close()));
  });
});

describe('messages on the channel', () => {
  it('round-trip any key or prefix', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.nat({ max: 2 ** 40 }),
        fc.constantFrom('k' as const, 'p' as const),
        (target, seq, op) => {
          const message = { id: '0123456789abcdef', seq, op, target };
          expect(decodeMessage(encodeMessage(message))).toEqual(message);
        },
      ),
    );
  });

  it('anything else is ignored, never thrown on', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const message = decodeMessage(text);
        if (message !== undefined) expect(encodeMessage(message)).toBe(text);
      }),
    );
  });

  it('garbage published on the channel leaves the bus up and L1 as it was', async () => {
    const bus = channel();
    const a = tiered(REDIS_URL, { ...patient, channel: bus });
    await busUp(a);
    const key = unique();
    await a.set(key, 'kept', 60);
    const raw = new Redis(REDIS_URL);
    for (const text of [
      '',
      'k',
      `zzzzzzzzzzzzzzzz1:k${key}`,
      `0123456789abcdef:k${key}`,
      '0123456789abcdef1:x',
      '\u0000'.repeat(40),
    ]) {
      await raw.publish(bus, text);
    }
    await raw.publish(bus, 'end');
    // A heartbeat after the garbage came back: the garbage was read, and ignored.
    const sent = performance.now();
    await until(() => a.busUp && performance.now() - sent > 50, { what: 'the bus stayed up' });
    expect(a.get(key)).toBe('kept');
    await raw.quit();
  });
});

describe('when the bus or Redis fails', () => {
  let server: RedisServer;
  let admin: Redis;
  beforeAll(async () => {
    server = await startRedisServer(testPort(17141));
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    admin.disconnect();
    await server.stop();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a cut subscriber caps every L1 entry at busLossTtl, and the reconnected bus empties L1', async () => {
    const a = tiered(server.url, { ...patient, busLossTtl: 2 });
    const reported: { operation: string; backend: string; error: unknown }[] = [];
    // Held to the end: the backend holds the cache's reporter only weakly.
    const cache = createCache(a, { onError: (event) => reported.push(event) });
    await busUp(a);
    const key = unique();
    await a.set(key, 'v', 600);
    // Keep the subscriber from coming back: no new connection is accepted.
    const others = ((await admin.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string).trim().split('\n');
    await admin.config('SET', 'maxclients', String(others.length));
    vi.useFakeTimers({ toFake: ['Date'] });
    const cut = Date.now();
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await until(() => !a.busUp, { what: 'the bus noticed the cut' });
    expect(a.busUp).toBe(false);
    // Reported through the cache's onError, once per loss.
    expect(reported).toEqual([{ operation: 'bus', backend: 'tiered', error: expect.any(RedisBackendError) }]);
    // Held and written during the loss: both on the short leash, counted from the loss (or the write).
    const during = unique();
    vi.setSystemTime(cut + 500);
    await a.set(during, 'w', 600);
    vi.setSystemTime(cut + 1_999);
    expect(a.get(key)).toBe('v');
    vi.setSystemTime(cut + 2_000);
    expect(a.hasInL1(key)).toBe(false);
    expect(a.get(during)).toBe('w');
    vi.setSystemTime(cut + 2_500);
    expect(a.hasInL1(during)).toBe(false);
    expect(a.busUp).toBe(false); // still down: the cap did it, not a reconnection
    vi.useRealTimers();
    await a.set(key, 'v2', 600);
    expect(a.hasInL1(key)).toBe(true);
    await admin.config('SET', 'maxclients', '10000');
    await busUp(a);
    expect(a.hasInL1(key)).toBe(false); // emptied on the way back up
    expect(await a.get(key)).toBe('v2');
    expect(cache.backend).toBe(a);
  });

  it('a stalled Redis does not stall L1 hits, and the bus notices it', async () => {
    const a = tiered(server.url, { commandTimeout: 0.2, busLossTtl: 10 });
    await busUp(a);
    const cache = createCache(a, { prefix: unique('p') });
    let runs = 0;
    const load = memorizeFn({ expire: 600, cache, namespace: 'load' })(async (id: string) => {
      runs++;
      return { id };
    });
    expect(await load('1')).toEqual({ id: '1' });
    expect(a.l1Size).toBe(1);
    // Frozen: connections stay open, nothing answers.
    server.process.kill('SIGSTOP');
    try {
      await until(() => !a.busUp, { what: 'the bus noticed the stall' });
      const miss = a.get(cache.fullKey('x'));
      expect(miss).toBeInstanceOf(Promise); // a miss goes to Redis (and fails, as Redis is frozen)...
      await expect(miss).rejects.toThrow(RedisBackendError);
      expect(await load('1')).toEqual({ id: '1' }); // ...a hit is answered from L1 meanwhile
      expect(runs).toBe(1);
    } finally {
      server.process.kill('SIGCONT');
    }
    await busUp(a);
  });

  it('Redis killed: L1 keeps answering, misses run the resolver, nothing fails', async () => {
    const dying = await startRedisServer(testPort(17142));
    const a = tiered(dying.url, { commandTimeout: 0.2, busLossTtl: 60 });
    await busUp(a);
    const errors: unknown[] = [];
    const cache = createCache(a, { prefix: unique('p'), onError: (event) => errors.push(event.error) });
    let runs = 0;
    const load = memorizeFn({ expire: 600, cache, namespace: 'load' })(async (id: string) => {
      runs++;
      return { id, runs };
    });
    expect(await load('held')).toEqual({ id: 'held', runs: 1 });
    await killNow(dying);
    await until(() => !a.busUp, { what: 'the bus noticed' });
    expect(await load('held')).toEqual({ id: 'held', runs: 1 });
    expect(await load('new')).toEqual({ id: 'new', runs: 2 });
    expect(errors.length).toBeGreaterThan(0);
    await dying.stop();
  });
});
