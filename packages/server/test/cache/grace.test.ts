/**
 * Grace (API.md §7): staleWhileRevalidate and staleIfError through memorize and
 * memorizeFn, on the memory backend and on Redis, on a fake clock with exact
 * window boundaries. The upstream is a real HTTP server on 127.0.0.1:0, called
 * through ResilientClient, that the tests take down.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC, TRPCError } from '@trpc/server';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { MemoryBackend } from '../../src/backends/memory.js';
import { RedisBackend } from '../../src/backends/redis.js';
import type { CacheBackend } from '../../src/backends/types.js';
import { type CacheStaleEvent, createCache } from '../../src/cache/cache.js';
import { isServerFailure } from '../../src/cache/grace.js';
import { InvalidOptionError } from '../../src/errors.js';
import { ResilientClient } from '../../src/http/resilient-client.js';
import { memorize } from '../../src/middleware/memorize.js';
import { memorizeFn } from '../../src/middleware/memorize-fn.js';
import { patient } from '../helpers/redis-server.js';
import { until } from '../helpers/time.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const T0 = new Date('2030-01-01T00:00:00Z').getTime();

/** Real timers run (HTTP, Redis); only the clock the cache reads stands still until moved. */
function at(ms: number): void {
  vi.setSystemTime(T0 + ms);
}

/** A backend that counts completed writes (to wait for a background refresh to be stored). */
class Counting implements CacheBackend {
  readonly name: string;
  writes = 0;
  lastTtl: number | undefined;
  constructor(readonly inner: CacheBackend) {
    this.name = inner.name;
  }
  get(key: string) {
    return this.inner.get(key);
  }
  async set(key: string, value: string, ttl?: number) {
    this.lastTtl = ttl;
    await this.inner.set(key, value, ttl);
    this.writes++;
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  deleteByPrefix(prefix: string) {
    return this.inner.deleteByPrefix(prefix);
  }
}

/** The upstream: a real HTTP server that answers `{ version }`, and can be taken down. */
async function startUpstream() {
  let version = 1;
  let server: Server | undefined;
  let port = 0;
  const up = async () => {
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ version }));
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  };
  await up();
  return {
    get baseUrl() {
      return `http://127.0.0.1:${port}`;
    },
    set version(value: number) {
      version = value;
    },
    down: () =>
      new Promise<void>((resolve) => {
        server!.closeAllConnections();
        server!.close(() => resolve());
      }),
    up,
  };
}

const backends: [string, () => CacheBackend][] = [
  ['memory', () => new MemoryBackend()],
  ['Redis', () => new RedisBackend(REDIS_URL, patient)],
];

describe.each(backends)('grace on %s', (_name, makeBackend) => {
  const opened: CacheBackend[] = [];
  function setup(onStale?: (event: CacheStaleEvent) => void) {
    const backend = new Counting(makeBackend());
    opened.push(backend.inner);
    const cache = createCache(backend, {
      prefix: `grace-${randomUUID().slice(0, 8)}`,
      ...(onStale === undefined ? {} : { onStale }),
    });
    return { backend, cache };
  }
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    at(0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    for (const backend of opened) await backend.close?.();
  });

  it('staleIfError: upstream down after expiry → the stale value within the window, the error after it', async () => {
    const upstream = await startUpstream();
    const client = new ResilientClient({ baseUrl: upstream.baseUrl, retryAttempts: 1, timeout: 2 });
    const events: CacheStaleEvent[] = [];
    const { cache } = setup((event) => events.push(event));
    const t = initTRPC.create();
    let runs = 0;
    const router = t.router({
      post: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ cache, expire: 10, staleIfError: 20 }))
        .query(async () => {
          runs++;
          return client.getJson('post');
        }),
    });
    const caller = router.createCaller({});
    try {
      expect(await caller.post({ id: '1' })).toEqual({ version: 1 });
      upstream.version = 2;
      at(9_999);
      expect(await caller.post({ id: '1' })).toEqual({ version: 1 });
      expect(runs).toBe(1);

      // Expired, upstream still up: a plain miss, no grace involved.
      at(10_000);
      expect(await caller.post({ id: '2' })).toEqual({ version: 2 });

      await upstream.down();
      expect(await caller.post({ id: '1' })).toEqual({ version: 1 });
      expect(runs).toBe(3);
      expect(events).toEqual([
        expect.objectContaining({ type: 'error', age: 0, error: expect.any(TRPCError) }),
      ]);
      expect((events[0]!.error as TRPCError).code).toBe('BAD_GATEWAY');

      at(29_999);
      expect(await caller.post({ id: '1' })).toEqual({ version: 1 });
      at(30_000);
      await expect(caller.post({ id: '1' })).rejects.toMatchObject({ code: 'BAD_GATEWAY' });
      expect(runs).toBe(5);

      // Back up: the next call stores a fresh entry again.
      await upstream.up();
      expect(await caller.post({ id: '1' })).toEqual({ version: 2 });
    } finally {
      await upstream.down();
      await client.close();
    }
  });

  it('staleIfError never masks a 4xx TRPCError (NOT_FOUND, UNAUTHORIZED) nor a call before expiry', async () => {
    const { cache } = setup(() => {});
    const t = initTRPC.create();
    let answer: () => unknown = () => 'ok';
    const router = t.router({
      item: t.procedure.use(memorize({ cache, expire: 10, staleIfError: 60 })).query(() => answer()),
    });
    const caller = router.createCaller({});
    expect(await caller.item()).toBe('ok');
    at(10_000);
    answer = () => {
      throw new TRPCError({ code: 'NOT_FOUND' });
    };
    await expect(caller.item()).rejects.toMatchObject({ code: 'NOT_FOUND' });
    answer = () => {
      throw new TRPCError({ code: 'UNAUTHORIZED' });
    };
    await expect(caller.item()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    answer = () => {
      throw new Error('database unreachable');
    };
    expect(await caller.item()).toBe('ok');
  });

  it('keeps the entry in the backend for expire + max(grace) while the entry says when it stops being fresh', async () => {
    const { backend, cache } = setup();
    const load = memorizeFn({ cache, expire: 10, staleWhileRevalidate: 5, staleIfError: 30 })(
      async function load() {
        return 1;
      },
    );
    await load();
    const full = cache.fullKey('load:=[]');
    const raw = await backend.get(full);
    expect(raw).toMatch(new RegExp(`^${T0 + 10_000}\\|`));
    expect(backend.lastTtl).toBe(40);
    if (backend.inner instanceof RedisBackend) {
      const { Redis } = await import('ioredis');
      const admin = new Redis(REDIS_URL);
      const pttl = await admin.pttl(full);
      admin.disconnect();
      expect(pttl).toBeGreaterThan(39_000);
      expect(pttl).toBeLessThanOrEqual(40_000);
    }
  });

  it('staleWhileRevalidate: a call after expiry returns at once; the resolver runs once in the background', async () => {
    const events: CacheStaleEvent[] = [];
    const { backend, cache } = setup((event) => events.push(event));
    let version = 1;
    let release: (() => void) | undefined;
    let runs = 0;
    const load = memorizeFn({ cache, expire: 10, staleWhileRevalidate: 5 })(async function post(id: string) {
      runs++;
      const current = version;
      if (runs > 1) await new Promise<void>((resolve) => (release = resolve));
      return { id, version: current };
    });
    expect(await load('1')).toEqual({ id: '1', version: 1 });
    version = 2;

    at(10_000);
    // The resolver is blocked until `release()`: these return without waiting for it.
    const stale = await Promise.all([load('1'), load('1'), load('1')]);
    expect(stale).toEqual([1, 1, 1].map((v) => ({ id: '1', version: v })));
    await until(() => release !== undefined);
    expect(runs).toBe(2);
    expect(events.map((event) => event.type)).toEqual(['revalidate', 'revalidate', 'revalidate']);

    const writes = backend.writes;
    release!();
    await until(() => backend.writes === writes + 1);
    expect(await load('1')).toEqual({ id: '1', version: 2 });
    expect(runs).toBe(2);
  });

  it('staleWhileRevalidate: exact window boundaries; a failed refresh leaves the stale entry, reported', async () => {
    const events: CacheStaleEvent[] = [];
    const { cache } = setup((event) => events.push(event));
    const t = initTRPC.create();
    let fail = false;
    let runs = 0;
    const router = t.router({
      list: t.procedure.use(memorize({ cache, expire: 10, staleWhileRevalidate: 5 })).query(() => {
        runs++;
        if (fail) throw new TRPCError({ code: 'SERVICE_UNAVAILABLE' });
        return runs;
      }),
    });
    const caller = router.createCaller({});
    expect(await caller.list()).toBe(1);
    fail = true;

    at(14_999);
    expect(await caller.list()).toBe(1);
    await until(() => events.some((event) => event.type === 'refresh-failed'));
    expect(runs).toBe(2);
    expect(events.find((event) => event.type === 'refresh-failed')?.error).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });

    // Still within the window: still stale, and another refresh is tried.
    expect(await caller.list()).toBe(1);
    await until(() => runs === 3);

    // Past it: the call waits for the resolver, whose error is thrown.
    at(15_000);
    await expect(caller.list()).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    fail = false;
    expect(await caller.list()).toBe(5);
  });
});

describe('grace options', () => {
  it('are seconds ≥ 0, each needing an expire, checked when memorize() / memorizeFn() is called', () => {
    for (const value of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5', null]) {
      expect(() => memorize({ expire: 10, staleWhileRevalidate: value as number })).toThrow(
        InvalidOptionError,
      );
      expect(() => memorizeFn({ expire: 10, staleIfError: value as number })).toThrow(InvalidOptionError);
    }
    expect(() => memorize({ staleWhileRevalidate: 5 })).toThrow(/staleWhileRevalidate.*expire/s);
    expect(() => memorizeFn({ staleIfError: 5 })).toThrow(InvalidOptionError);
    // The expire of the cache given to it counts.
    const cache = createCache(new MemoryBackend(), { expire: 30 });
    expect(() => memorize({ cache, staleIfError: 60 })).not.toThrow();
    expect(() => memorize({ expire: 10, staleWhileRevalidate: 0, staleIfError: 0 })).not.toThrow();
  });

  it('distributed is true, false or { lockTtl, poll } in positive seconds', () => {
    expect(() => memorize({ expire: 1, distributed: true })).not.toThrow();
    expect(() => memorize({ expire: 1, distributed: { lockTtl: 5, poll: 0.05 } })).not.toThrow();
    for (const value of [{ lockTtl: 0 }, { poll: -1 }, { lockTtl: Number.NaN }, { ttl: 5 }, 'yes', 1]) {
      expect(() => memorize({ expire: 1, distributed: value as never })).toThrow(InvalidOptionError);
      expect(() => memorizeFn({ expire: 1, distributed: value as never })).toThrow(InvalidOptionError);
    }
  });

  it('tells server failures (maskable) from deliberate 4xx answers', () => {
    expect(isServerFailure(new Error('boom'))).toBe(true);
    expect(isServerFailure('a string')).toBe(true);
    for (const code of [
      'INTERNAL_SERVER_ERROR',
      'BAD_GATEWAY',
      'SERVICE_UNAVAILABLE',
      'GATEWAY_TIMEOUT',
    ] as const) {
      expect(isServerFailure(new TRPCError({ code }))).toBe(true);
    }
    for (const code of [
      'NOT_FOUND',
      'UNAUTHORIZED',
      'BAD_REQUEST',
      'FORBIDDEN',
      'TOO_MANY_REQUESTS',
    ] as const) {
      expect(isServerFailure(new TRPCError({ code }))).toBe(false);
    }
  });
});
