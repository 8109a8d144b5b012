import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { RedisBackend } from '../../src/backends/redis.js';
import type { CacheBackend } from '../../src/backends/types.js';
import { type Cache, type CacheErrorEvent, createCache } from '../../src/cache/cache.js';
import { CacheManager } from '../../src/cache/manager.js';
import { CacheNotInitializedError, InvalidOptionError } from '../../src/errors.js';
import { memorizeFn } from '../../src/middleware/memorize-fn.js';
import { gate, untilJoined, type WatchedBackend, watchReads } from '../helpers/in-flight.js';
import { closedPort, patient } from '../helpers/redis-server.js';
import { freezeTime, T0 } from '../helpers/time.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function memorizeFnSuite(name: string, make: () => CacheBackend): void {
  describe(`memorizeFn on ${name}`, () => {
    let made: CacheBackend;
    let backend: WatchedBackend;
    const caches: Cache[] = [];
    beforeAll(() => {
      made = make();
      backend = watchReads(made);
    });
    afterEach(() => {
      vi.useRealTimers();
    });
    afterAll(async () => {
      for (const cache of caches) await cache.clear();
      await made.close?.();
    });
    const freshCache = (): Cache => {
      const cache = createCache(backend, { prefix: `memorize-fn-test-${randomUUID().slice(0, 8)}` });
      caches.push(cache);
      return cache;
    };

    it('runs on a miss and serves the stored result on a hit, per arguments', async () => {
      const cache = freshCache();
      let runs = 0;
      const load = memorizeFn({ expire: 60, cache })(async function loadReport(id: string, year: number) {
        runs++;
        return { id, year, rows: [1, 2] };
      });
      expect(await load('SNF', 2024)).toEqual({ id: 'SNF', year: 2024, rows: [1, 2] });
      expect(await load('SNF', 2024)).toEqual({ id: 'SNF', year: 2024, rows: [1, 2] });
      expect(runs).toBe(1);
      await load('SNF', 2025);
      await load('HHA', 2024);
      expect(runs).toBe(3);
    });

    it('expires entries after `expire` seconds, to the millisecond', async () => {
      freezeTime();
      const cache = freshCache();
      let runs = 0;
      const load = memorizeFn({ expire: 60, cache })(async function tick() {
        return ++runs;
      });
      expect(await load()).toBe(1);
      vi.setSystemTime(T0 + 59_999);
      expect(await load()).toBe(1);
      vi.setSystemTime(T0 + 60_000);
      expect(await load()).toBe(2);
    });

    it('keys by content: object key order and trailing undefined arguments do not matter', async () => {
      const cache = freshCache();
      let runs = 0;
      const search = memorizeFn({ expire: 60, cache })(async function search(query: object, page?: number) {
        runs++;
        return { query, page };
      });
      await search({ a: 1, b: { c: 2, d: 3 } });
      await search({ b: { d: 3, c: 2 }, a: 1 });
      await search({ a: 1, b: { c: 2, d: 3 } }, undefined);
      expect(runs).toBe(1);
      await search({ a: 1, b: { c: 2, d: 3 } }, 2);
      expect(runs).toBe(2);
    });

    it("uses the function's name as namespace, or the one given", async () => {
      const cache = freshCache();
      let named = 0;
      let custom = 0;
      const loadUser = memorizeFn({ expire: 60, cache })(async function loadUser(id: number) {
        named++;
        return id;
      });
      const loadTeam = memorizeFn({ expire: 60, cache, namespace: 'teams' })(async (id: number) => {
        custom++;
        return id;
      });
      await loadUser(1);
      await loadTeam(1);
      expect(loadUser.name).toBe('loadUser');
      await cache.clear({ namespace: 'loadUser' });
      await loadUser(1);
      await loadTeam(1);
      expect([named, custom]).toEqual([2, 1]);
      await cache.clear({ namespace: 'teams' });
      await loadUser(1);
      await loadTeam(1);
      expect([named, custom]).toEqual([2, 2]);
    });

    it('runs the function once for 50 concurrent calls with the same arguments', async () => {
      const cache = freshCache();
      let runs = 0;
      const upstream = gate();
      const load = memorizeFn({ expire: 60, cache })(async function slowLoad(id: string) {
        runs++;
        await upstream.opened;
        return { id, n: Math.random() };
      });
      const calls = Promise.all(Array.from({ length: 50 }, () => load('same')));
      await untilJoined(
        backend,
        () => 50,
        50,
        () => runs,
      );
      upstream.open();
      const results = await calls;
      expect(runs).toBe(1);
      expect(new Set(results.map((result) => result.n)).size).toBe(1);
      expect(await load('same')).toEqual(results[0]);
      expect(runs).toBe(1);
    });

    it('never caches errors; concurrent callers share the one failure', async () => {
      const cache = freshCache();
      let runs = 0;
      let fail = true;
      const upstream = gate();
      const load = memorizeFn({ expire: 60, cache })(async function flaky() {
        runs++;
        await upstream.opened;
        if (fail) throw new Error('upstream down');
        return 'fine';
      });
      const calls = Promise.allSettled(Array.from({ length: 10 }, () => load()));
      await untilJoined(
        backend,
        () => 10,
        10,
        () => runs,
      );
      upstream.open();
      const outcomes = await calls;
      expect(outcomes.map((outcome) => outcome.status)).toEqual(Array(10).fill('rejected'));
      expect(runs).toBe(1);
      await expect(load()).rejects.toThrow('upstream down');
      expect(runs).toBe(2);
      fail = false;
      expect(await load()).toBe('fine');
      expect(await load()).toBe('fine');
      expect(runs).toBe(3);
    });

    it('hands every caller its own copy', async () => {
      const cache = freshCache();
      const load = memorizeFn({ expire: 60, cache })(async function list() {
        return { items: [1, 2, 3] };
      });
      (await load()).items.push(4);
      const hit = await load();
      expect(hit.items).toEqual([1, 2, 3]);
      hit.items.pop();
      expect((await load()).items).toEqual([1, 2, 3]);
    });

    it('hands each call that waited for the same run its own copy', async () => {
      const cache = freshCache();
      const values: { items: number[] }[] = [];
      let runs = 0;
      const upstream = gate();
      const load = memorizeFn({ expire: 60, cache })(async function slowList() {
        runs++;
        await upstream.opened;
        const value = { items: [1, 2, 3] };
        values.push(value);
        return value;
      });
      const calls = Promise.all([load(), load(), load()]);
      await untilJoined(
        backend,
        () => 3,
        3,
        () => runs,
      );
      upstream.open();
      const results = await calls;
      expect(values).toHaveLength(1);
      expect(new Set(results).size).toBe(3);
      expect(results.filter((result) => result === values[0])).toHaveLength(1);
      results[0]!.items.push(4);
      results[1]!.items.length = 0;
      expect(results[2]!.items).toEqual([1, 2, 3]);
      expect((await load()).items).toEqual([1, 2, 3]);
    });

    it('round-trips Date, Map, Set and BigInt', async () => {
      const cache = freshCache();
      let runs = 0;
      const load = memorizeFn({ expire: 60, cache })(async function typed(at: Date) {
        runs++;
        return { at, byDay: new Map([[at.toISOString(), 1n]]), tags: new Set(['a']) };
      });
      const at = new Date('2024-01-02T03:04:05.006Z');
      await load(at);
      const hit = await load(new Date(at.getTime()));
      expect(runs).toBe(1);
      expect(hit.at).toEqual(at);
      expect(hit.byDay.get(at.toISOString())).toBe(1n);
      expect(hit.tags).toEqual(new Set(['a']));
      await load(new Date(at.getTime() + 1));
      expect(runs).toBe(2);
    });

    it('uses a custom key and passes `this` through', async () => {
      const cache = freshCache();
      let runs = 0;
      const service = {
        base: 10,
        get: memorizeFn({ expire: 60, cache, key: (id: number) => `id-${id}` })(async function get(
          this: { base: number },
          id: number,
        ) {
          runs++;
          return this.base + id;
        }),
      };
      expect(await service.get(1)).toBe(11);
      expect(await service.get(1)).toBe(11);
      expect(runs).toBe(1);
      await cache.clear({ namespace: 'get', key: 'id-1' });
      expect(await service.get(1)).toBe(11);
      expect(runs).toBe(2);
    });

    it('runs calls whose arguments have no stable identity uncached', async () => {
      const cache = freshCache();
      let runs = 0;
      const apply = memorizeFn({ expire: 60, cache })(async function apply(transform: (n: number) => number) {
        runs++;
        return transform(1);
      });
      expect(await apply((n) => n + 1)).toBe(2);
      expect(await apply((n) => n + 1)).toBe(2);
      expect(runs).toBe(2);
    });
  });
}

memorizeFnSuite('MemoryBackend', () => new MemoryBackend());
memorizeFnSuite('RedisBackend', () => new RedisBackend(REDIS_URL, patient));

describe('memorizeFn options', () => {
  it('needs a namespace for an anonymous function, at wrap time', () => {
    const wrap = memorizeFn({ expire: 60 });
    expect(() => wrap(async () => 1)).toThrow(InvalidOptionError);
    expect(() => wrap(async () => 1)).toThrow(
      /"namespace" must be a non-empty string when the function is anonymous/,
    );
    expect(() => memorizeFn({ namespace: 'one' })(async () => 1)).not.toThrow();
  });

  it.each([
    [{ expire: 0 }, 'expire'],
    [{ expire: -1 }, 'expire'],
    [{ expire: Number.POSITIVE_INFINITY }, 'expire'],
    [{ namespace: '' }, 'namespace'],
    [{ key: 'id' }, 'key'],
    [{ cache: 'redis' }, 'cache'],
    [{ scope: 'public' }, 'scope'],
  ])('rejects %o when memorizeFn() is called', (options, option) => {
    expect(() => memorizeFn(options as never)).toThrow(InvalidOptionError);
    expect(() => memorizeFn(options as never)).toThrow(`"${option}"`);
  });

  it('looks the global cache up at call time', async () => {
    CacheManager.reset();
    const load = memorizeFn({ expire: 60 })(async function globalLoad() {
      return 1;
    });
    await expect(load()).rejects.toBeInstanceOf(CacheNotInitializedError);
    CacheManager.init(new MemoryBackend(), { prefix: 'fn-global' });
    expect(await load()).toBe(1);
    expect(await CacheManager.get('globalLoad:=[]')).toBe(1);
    CacheManager.reset();
  });
});

describe('memorizeFn with Redis down', () => {
  afterEach(() => CacheManager.reset());

  // The command deadline is an hour: answering at all (within the test's timeout) shows the call
  // did not wait for it. No bound on how fast the machine answers.
  it('answers through the function without waiting for the command deadline, and reports the failure', async () => {
    const port = await closedPort();
    const backend = new RedisBackend(`redis://127.0.0.1:${port}`, { commandTimeout: 3_600 });
    const events: CacheErrorEvent[] = [];
    const cache = createCache(backend, { prefix: 'down', onError: (event) => events.push(event) });
    let runs = 0;
    const load = memorizeFn({ expire: 60, cache })(async function loadDown(id: string) {
      runs++;
      return { id };
    });
    for (let i = 0; i < 2; i++) expect(await load('x')).toEqual({ id: 'x' });
    expect(runs).toBe(2);
    expect(events.map((event) => event.operation)).toContain('get');
    await backend.close();
  });
});
