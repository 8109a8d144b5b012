/**
 * The behavioural contract every cache backend must meet, run against each of
 * them (memory, Redis, Redis Cluster) so that none can drift from the others.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CacheBackend } from '../../src/backends/types.js';
import { createCache } from '../../src/cache/cache.js';
import { coreOf } from '../../src/cache/cache-internals.js';

export interface BackendUnderTest {
  backend: CacheBackend;
  /** Called once after the suite (close clients, stop servers). */
  dispose?: () => Promise<void> | void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh key space per test: suites share one Redis database with other test files. */
const unique = (label = 'k') => `suite-${randomUUID().slice(0, 8)}-${label}`;

export function backendSuite(name: string, make: () => Promise<BackendUnderTest> | BackendUnderTest): void {
  describe(`${name}: backend contract`, () => {
    let subject: BackendUnderTest;
    let backend: CacheBackend;
    beforeAll(async () => {
      subject = await make();
      backend = subject.backend;
    });
    afterAll(async () => {
      await subject?.dispose?.();
    });

    it('answers undefined for a key never stored', async () => {
      expect(await backend.get(unique())).toBeUndefined();
    });

    it('stores, overwrites and deletes exactly one key', async () => {
      const key = unique();
      await backend.set(key, 'one');
      await backend.set(`${key}x`, 'sibling');
      expect(await backend.get(key)).toBe('one');
      await backend.set(key, 'two');
      expect(await backend.get(key)).toBe('two');
      await backend.delete(key);
      expect(await backend.get(key)).toBeUndefined();
      expect(await backend.get(`${key}x`)).toBe('sibling');
    });

    it('keeps strings intact (unicode, separators, empty)', async () => {
      const key = unique('ключ:|*?[]');
      const value = 'héllo | wörld 🚀 \n\t "quoted" \\ ';
      await backend.set(key, value);
      expect(await backend.get(key)).toBe(value);
      await backend.set(key, '');
      expect(await backend.get(key)).toBe('');
    });

    it('expires an entry after its ttl (seconds) and keeps one without ttl', async () => {
      const short = unique('short');
      const forever = unique('forever');
      await backend.set(short, 'v', 0.25);
      await backend.set(forever, 'v');
      expect(await backend.get(short)).toBe('v');
      await sleep(400);
      expect(await backend.get(short)).toBeUndefined();
      expect(await backend.get(forever)).toBe('v');
    });

    it('deletes by literal prefix: glob characters match themselves, siblings survive', async () => {
      const base = unique();
      const prefix = `${base}:a*[b]?\\:`;
      await backend.set(`${prefix}1`, 'x');
      await backend.set(`${prefix}2`, 'x');
      await backend.set(`${base}:aX[b]?\\:3`, 'glob would match this');
      await backend.set(`${base}:a*[b]?\\`, 'shorter than the prefix');
      await backend.deleteByPrefix(prefix);
      expect(await backend.get(`${prefix}1`)).toBeUndefined();
      expect(await backend.get(`${prefix}2`)).toBeUndefined();
      expect(await backend.get(`${base}:aX[b]?\\:3`)).toBe('glob would match this');
      expect(await backend.get(`${base}:a*[b]?\\`)).toBe('shorter than the prefix');
    });

    it('deletes every key of a prefix, however many (several SCAN rounds)', async () => {
      const prefix = `${unique()}:`;
      const keys = Array.from({ length: 2_500 }, (_, i) => `${prefix}${i}`);
      await Promise.all(keys.map((key) => backend.set(key, 'x', 30)));
      await backend.set(`${prefix.slice(0, -1)}-other`, 'stays', 30);
      await backend.deleteByPrefix(prefix);
      const left = await Promise.all(keys.map((key) => backend.get(key)));
      expect(left.filter((value) => value !== undefined)).toEqual([]);
      expect(await backend.get(`${prefix.slice(0, -1)}-other`)).toBe('stays');
    });

    describe('through a cache', () => {
      it('round-trips JSON, Date, Map, Set, BigInt, undefined fields and null', async () => {
        const cache = createCache(backend, { prefix: unique('p') });
        const value = {
          json: { a: [1, 'two', { three: true }], n: null },
          at: new Date('2024-05-06T07:08:09.010Z'),
          map: new Map<unknown, unknown>([
            ['a', 1],
            [{ k: 2 }, new Set([3n])],
          ]),
          set: new Set(['x', 'y']),
          big: 2n ** 70n,
          missing: undefined,
          list: [undefined, Number.NaN, -0, Number.POSITIVE_INFINITY],
        };
        await cache.set('typed', value);
        const back = await cache.get<typeof value>('typed');
        expect(back).toStrictEqual(value);
        expect(back !== undefined && 'missing' in back).toBe(true);
        await cache.set('null', null);
        expect(await cache.get('null')).toBeNull();
        await cache.set('plain', { a: 1 });
        expect(await cache.get('plain')).toStrictEqual({ a: 1 });
      });

      it('hands out copies: mutating a value read back changes nothing stored', async () => {
        const cache = createCache(backend, { prefix: unique('p') });
        const original = { list: [1, 2], nested: { at: new Date(0) } };
        await cache.set('k', original);
        original.list.push(3);
        const first = await cache.get<typeof original>('k');
        first!.list.push(99);
        first!.nested.at.setFullYear(2000);
        const second = await cache.get<typeof original>('k');
        expect(second).toStrictEqual({ list: [1, 2], nested: { at: new Date(0) } });
        expect(second).not.toBe(first);
      });

      it('clear({ key }) removes exactly that key, clear({ namespace }) that namespace, clear() the prefix only', async () => {
        const prefix = unique('p');
        const cache = createCache(backend, { prefix });
        const sibling = createCache(backend, { prefix: `${prefix}-sibling` });
        await cache.set('ns:1', 1);
        await cache.set('ns:10', 10);
        await cache.set('ns2:1', 21);
        await cache.set('top', 0);
        await sibling.set('ns:1', 'sibling');

        await cache.clear({ key: 'ns:1' });
        expect(await cache.get('ns:1')).toBeUndefined();
        expect(await cache.get('ns:10')).toBe(10);

        await cache.clear({ namespace: 'ns', key: '10' });
        expect(await cache.get('ns:10')).toBeUndefined();
        await cache.set('ns:10', 10);

        await cache.clear({ namespace: 'ns' });
        expect(await cache.get('ns:10')).toBeUndefined();
        expect(await cache.get('ns2:1')).toBe(21);
        expect(await cache.get('top')).toBe(0);

        await cache.clear();
        expect(await cache.get('ns2:1')).toBeUndefined();
        expect(await cache.get('top')).toBeUndefined();
        expect(await sibling.get('ns:1')).toBe('sibling');
      });

      it('uses the default expire for set() without one, and no expiry without either', async () => {
        const prefix = unique('p');
        const withDefault = createCache(backend, { prefix, expire: 0.25 });
        const noDefault = createCache(backend, { prefix: `${prefix}-none` });
        await withDefault.set('d', 1);
        await withDefault.set('long', 1, { expire: 30 });
        await noDefault.set('n', 1);
        expect((await coreOf(withDefault).read('d'))?.expiresAt).toBeGreaterThan(Date.now());
        expect((await coreOf(noDefault).read('n'))?.expiresAt).toBeUndefined();
        await sleep(400);
        expect(await withDefault.get('d')).toBeUndefined();
        expect(await withDefault.get('long')).toBe(1);
        expect(await noDefault.get('n')).toBe(1);
      });
    });
  });
}
