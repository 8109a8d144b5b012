import type { CacheBackend, MaybePromise } from '../backends/types.js';
import { createCache } from '../cache/cache.js';

/**
 * What the suite asserts with: the `expect` of Vitest or Jest (or anything with
 * these matchers). Only the matchers the suite uses are required.
 *
 * @example
 * ```ts
 * import { expect } from 'vitest';
 * const assertWith: BackendSuiteExpect = expect;
 * ```
 */
export type BackendSuiteExpect = (actual: unknown) => {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toStrictEqual(expected: unknown): void;
  toBeUndefined(): void;
  toBeGreaterThanOrEqual(expected: number): void;
};

/**
 * The test runner's functions the suite registers its tests with, passed in so
 * that `@trpc-memory/server` never depends on a test runner. Vitest's and Jest's
 * globals fit as they are.
 *
 * @example
 * ```ts
 * import { afterAll, beforeAll, describe, expect, it } from 'vitest';
 * const api: BackendSuiteApi = { describe, it, expect, beforeAll, afterAll };
 * ```
 */
export interface BackendSuiteApi {
  describe(name: string, body: () => void): unknown;
  /** Registers a test; `timeout` is in milliseconds, as every runner takes it. */
  it(name: string, body: () => Promise<void>, timeout?: number): unknown;
  beforeAll(body: () => Promise<void>, timeout?: number): unknown;
  afterAll(body: () => Promise<void>, timeout?: number): unknown;
  expect: BackendSuiteExpect;
}

/**
 * The backend under test, for {@link registerBackendSuite}.
 *
 * @example
 * ```ts
 * const options: BackendSuiteOptions = { name: 'MapBackend', make: () => new MapBackend() };
 * ```
 */
export interface BackendSuiteOptions {
  /** Names the suite (its `describe` block), e.g. the backend's class name. */
  name: string;
  /**
   * Makes the backend, once, before the first test. The tests share it and write
   * only keys under a prefix of their own, so a database other code uses is fine.
   */
  make: () => MaybePromise<CacheBackend>;
  /**
   * Runs once after the last test, after the suite has called the backend's
   * `close()`: closes what the backend does not own (a client you passed it, a
   * server you started).
   */
  dispose?: () => MaybePromise<void>;
  /**
   * Milliseconds each test may take, passed to the runner's `it`.
   * @default 30_000
   */
  timeout?: number;
}

// Taken when this module loads, so the one test that needs real time gets it even
// when the test file fakes timers.
const realSetTimeout = globalThis.setTimeout;
const realNow = globalThis.performance.now.bind(globalThis.performance);

/** The entry time to live the expiry test stores, in seconds: a fraction, as the contract allows. */
const TTL_SECONDS = 1.5;
/** How long after its time to live an entry may still be readable before the test gives up. */
const EXPIRY_PATIENCE_MS = 10_000;

/**
 * Registers the tests every {@link CacheBackend} must pass: the contract the
 * cache relies on (absent keys, overwrite, exact delete, literal-prefix delete
 * over many keys, strings kept intact, expiry in seconds), and round trips through
 * a cache built on it. `MemoryBackend` and `RedisBackend` (single Redis, Cluster,
 * ioredis and node-redis) run this same suite.
 *
 * The expiry test waits real time (about 1.5 s), whatever the test file fakes: it
 * checks the backend's own clock, which fake timers do not reach.
 *
 * @example
 * ```ts
 * // map-backend.test.ts, run by Vitest
 * import { registerBackendSuite } from '@trpc-memory/server/test-suite';
 * import { afterAll, beforeAll, describe, expect, it } from 'vitest';
 * import { MapBackend } from '../src/map-backend.js';
 *
 * registerBackendSuite(
 *   { describe, it, expect, beforeAll, afterAll },
 *   { name: 'MapBackend', make: () => new MapBackend() },
 * );
 * ```
 */
export function registerBackendSuite(api: BackendSuiteApi, options: BackendSuiteOptions): void {
  const { describe, it, expect, beforeAll, afterAll } = api;
  const { name, make, dispose, timeout = 30_000 } = options;
  const test = (title: string, body: () => Promise<void>) => it(title, body, timeout);
  // A key space of this run's own: suites share one Redis database with other tests.
  const run = `trpc-memory-suite-${globalThis.crypto.randomUUID().slice(0, 8)}`;
  let count = 0;
  const unique = (label = 'k') => `${run}-${++count}-${label}`;

  describe(`${name}: backend contract`, () => {
    let backend: CacheBackend;
    /** What the backend answers for `key`; a custom backend may say `null` for absent, as the cache allows. */
    const read = async (key: string) => (await backend.get(key)) ?? undefined;

    beforeAll(async () => {
      backend = await make();
    }, timeout);
    afterAll(async () => {
      try {
        await backend?.close?.();
      } finally {
        await dispose?.();
      }
    }, timeout);

    test('answers undefined for a key never stored', async () => {
      expect(await read(unique())).toBeUndefined();
    });

    test('stores, overwrites and deletes exactly one key', async () => {
      const key = unique();
      await backend.set(key, 'one');
      await backend.set(`${key}x`, 'sibling');
      expect(await read(key)).toBe('one');
      await backend.set(key, 'two');
      expect(await read(key)).toBe('two');
      await backend.delete(key);
      expect(await read(key)).toBeUndefined();
      expect(await read(`${key}x`)).toBe('sibling');
      await backend.delete(unique('never-stored'));
    });

    test('keeps keys and values intact (unicode, separators, glob characters, empty value)', async () => {
      const key = unique('ключ:|*?[]\\ 🚀');
      const value = 'héllo | wörld 🚀 \n\t "quoted" \\ ';
      await backend.set(key, value);
      expect(await read(key)).toBe(value);
      await backend.set(key, '');
      expect(await read(key)).toBe('');
    });

    test(`expires an entry after its ttl in seconds (${TTL_SECONDS} s, real time) and keeps one without`, async () => {
      const short = unique('short');
      const forever = unique('forever');
      const long = unique('long');
      const storedAt = realNow();
      await backend.set(short, 'v', TTL_SECONDS);
      await backend.set(forever, 'v');
      await backend.set(long, 'v', 3_600);
      // 1.5 s of margin for one read right after the write: enough on a loaded machine.
      expect(await read(short)).toBe('v');
      while ((await read(short)) !== undefined) {
        if (realNow() - storedAt > TTL_SECONDS * 1000 + EXPIRY_PATIENCE_MS) break;
        await new Promise((resolve) => realSetTimeout(resolve, 25));
      }
      const goneAfter = realNow() - storedAt;
      // Gone, and not before its time (a fraction of a second is not rounded down).
      expect(await read(short)).toBeUndefined();
      expect(goneAfter).toBeGreaterThanOrEqual(TTL_SECONDS * 1000 - 1);
      expect(await read(forever)).toBe('v');
      expect(await read(long)).toBe('v');
    });

    test('deletes by literal prefix: glob characters match themselves, siblings survive', async () => {
      const base = unique();
      const prefix = `${base}:a*[b]?\\:`;
      await backend.set(`${prefix}1`, 'x');
      await backend.set(`${prefix}2`, 'x', 60);
      await backend.set(`${base}:aX[b]?\\:3`, 'glob would match this');
      await backend.set(`${base}:a*[b]?\\`, 'shorter than the prefix');
      await backend.deleteByPrefix(prefix);
      expect(await read(`${prefix}1`)).toBeUndefined();
      expect(await read(`${prefix}2`)).toBeUndefined();
      expect(await read(`${base}:aX[b]?\\:3`)).toBe('glob would match this');
      expect(await read(`${base}:a*[b]?\\`)).toBe('shorter than the prefix');
    });

    test('deletes every key of a prefix, however many (2,500 keys)', async () => {
      const prefix = `${unique()}:`;
      const keys = Array.from({ length: 2_500 }, (_, i) => `${prefix}${i}`);
      await Promise.all(keys.map((key) => backend.set(key, 'x', 60)));
      await backend.set(`${prefix.slice(0, -1)}-other`, 'stays', 60);
      await backend.deleteByPrefix(prefix);
      const left = await Promise.all(keys.map(read));
      expect(left.filter((value) => value !== undefined)).toEqual([]);
      expect(await read(`${prefix.slice(0, -1)}-other`)).toBe('stays');
    });

    describe('through a cache', () => {
      test('round-trips JSON, Date, Map, Set, BigInt, undefined fields and null', async () => {
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
        expect(await cache.get('null')).toBe(null);
        await cache.clear();
      });

      test('hands out copies: mutating a value read back changes nothing stored', async () => {
        const cache = createCache(backend, { prefix: unique('p') });
        const original = { list: [1, 2], nested: { at: new Date(0) } };
        await cache.set('k', original);
        original.list.push(3);
        const first = await cache.get<typeof original>('k');
        first?.list.push(99);
        first?.nested.at.setFullYear(2000);
        const second = await cache.get<typeof original>('k');
        expect(second).toStrictEqual({ list: [1, 2], nested: { at: new Date(0) } });
        expect(second === first).toBe(false);
        await cache.clear();
      });

      test('clear({ key }) removes exactly that key, clear({ namespace }) that namespace, clear() the prefix only', async () => {
        const prefix = unique('p');
        const cache = createCache(backend, { prefix });
        const sibling = createCache(backend, { prefix: `${prefix}-sibling` });
        await cache.set('ns:1', 1);
        await cache.set('ns:10', 10);
        await cache.set('ns2:1', 21);
        await cache.set('top', 0, { expire: 60 });
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
        await sibling.clear();
      });
    });
  });
}
