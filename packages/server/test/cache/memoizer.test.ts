import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { TieredBackend } from '../../src/backends/tiered.js';
import type { CacheBackend } from '../../src/backends/types.js';
import { createCache } from '../../src/cache/cache.js';
import { EPOCH_STATE, tagStateKey } from '../../src/cache/key.js';
import { type Computed, createMemoizer, type Flight, localFlight } from '../../src/cache/memoizer.js';
import type { GuardPlan, Prefetched } from '../../src/cache/tags.js';
import { patient } from '../helpers/redis-server.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A promise with its resolver, to hold a computation open until the test lets it go. */
function gate<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

describe('memoizer', () => {
  it('reads a miss as undefined, computes once, stores for the ttl and then hits', async () => {
    const cache = createCache(new MemoryBackend(), { prefix: 'memoizer' });
    const memoizer = createMemoizer();
    expect(await memoizer.read(cache, 'ns:k')).toBeUndefined();
    let runs = 0;
    const call = { key: 'ns:k', ttl: 60, compute: async () => ({ n: ++runs }) };
    const first = await memoizer.memoize(cache, call);
    expect(first).toMatchObject({ data: { n: 1 }, source: 'miss', stored: true });
    expect(typeof first.expiresAt).toBe('number');
    const second = await memoizer.memoize(cache, call);
    expect(second).toEqual({ data: { n: 1 }, source: 'hit', stored: true, expiresAt: first.expiresAt });
    expect(runs).toBe(1);
    expect((await memoizer.read(cache, 'ns:k'))?.value).toEqual({ n: 1 });
  });

  it('runs concurrent misses once and hands every waiting call its own copy', async () => {
    const cache = createCache(new MemoryBackend(), { prefix: 'memoizer' });
    const memoizer = createMemoizer();
    const hold = gate();
    let runs = 0;
    const value = { list: [1, 2, 3] };
    const call = {
      key: 'ns:shared',
      ttl: undefined,
      compute: async () => {
        runs++;
        await hold.promise;
        return value;
      },
    };
    const pending = Array.from({ length: 5 }, () => memoizer.computeThrough(cache, call));
    hold.open();
    const outcomes = await Promise.all(pending);
    expect(runs).toBe(1);
    expect(outcomes[0]).toEqual({ data: value, source: 'miss', stored: true, expiresAt: undefined });
    expect(outcomes[0]?.data).toBe(value);
    const copies = outcomes.slice(1).map((outcome) => outcome.data);
    for (const copy of copies) {
      expect(copy).toEqual(value);
      expect(copy).not.toBe(value);
    }
    expect(new Set(copies).size).toBe(copies.length);
    expect(outcomes.slice(1).every((outcome) => outcome.source === 'hit')).toBe(true);
  });

  it('hands every waiting call its own copy of a result it does not keep', async () => {
    const cache = createCache(new MemoryBackend(), { prefix: 'memoizer' });
    const memoizer = createMemoizer();
    const hold = gate();
    const value = { list: [1, 2, 3] };
    const call = {
      key: 'ns:unkept',
      ttl: 60,
      compute: async () => {
        await hold.promise;
        return value;
      },
      storeKeyOf: () => undefined,
    };
    const pending = Array.from({ length: 4 }, () => memoizer.computeThrough(cache, call));
    hold.open();
    const outcomes = await Promise.all(pending);
    expect(outcomes.every((outcome) => outcome.stored === false && outcome.source === 'miss')).toBe(true);
    expect(outcomes[0]?.data).toBe(value);
    const copies = outcomes.slice(1).map((outcome) => outcome.data as { list: number[] });
    for (const copy of copies) {
      expect(copy).toEqual(value);
      expect(copy).not.toBe(value);
    }
    copies[0]?.list.push(4);
    expect(value.list).toEqual([1, 2, 3]);
    expect(copies[1]?.list).toEqual([1, 2, 3]);
    expect(await memoizer.read(cache, 'ns:unkept')).toBeUndefined();
  });

  it('stores under storeKeyOf() once compute ran, or nothing when it answers undefined', async () => {
    const cache = createCache(new MemoryBackend(), { prefix: 'memoizer' });
    const memoizer = createMemoizer();
    const moved = await memoizer.computeThrough(cache, {
      key: 'ns:raw',
      ttl: 60,
      compute: async () => 'v',
      storeKeyOf: () => 'ns:validated',
    });
    expect(moved).toMatchObject({ data: 'v', source: 'miss', stored: true });
    expect(await memoizer.read(cache, 'ns:raw')).toBeUndefined();
    expect((await memoizer.read(cache, 'ns:validated'))?.value).toBe('v');

    const kept = await memoizer.computeThrough(cache, {
      key: 'ns:none',
      ttl: 60,
      compute: async () => 'w',
      storeKeyOf: () => undefined,
    });
    expect(kept).toEqual({ data: 'w', source: 'miss', stored: false, expiresAt: undefined });
    expect(await memoizer.read(cache, 'ns:none')).toBeUndefined();
  });

  it('never caches an error: the next call computes again', async () => {
    const cache = createCache(new MemoryBackend(), { prefix: 'memoizer' });
    const memoizer = createMemoizer();
    let runs = 0;
    const call = {
      key: 'ns:err',
      ttl: 60,
      compute: async () => {
        runs++;
        if (runs === 1) throw new Error('boom');
        return 'ok';
      },
    };
    await expect(memoizer.memoize(cache, call)).rejects.toThrow('boom');
    await expect(memoizer.memoize(cache, call)).resolves.toMatchObject({ data: 'ok', source: 'miss' });
    expect(runs).toBe(2);
  });

  it('runs misses through the flight it is given', async () => {
    const cache = createCache(new MemoryBackend(), { prefix: 'memoizer' });
    const local = localFlight();
    const seen: string[] = [];
    const flight: Flight = {
      run: (given, key, compute, signal): Promise<Computed> => {
        expect(given).toBe(cache);
        seen.push(key);
        return local.run(given, key, compute, signal);
      },
    };
    const memoizer = createMemoizer({ flight });
    await memoizer.memoize(cache, { key: 'ns:a', ttl: 60, compute: async () => 1 });
    await memoizer.memoize(cache, { key: 'ns:a', ttl: 60, compute: async () => 2 });
    expect(seen).toEqual(['ns:a']);
  });
});

describe('memoizer, by reference', () => {
  it('hands the computing call, concurrent waiters and later hits one deep-frozen value', async () => {
    const cache = createCache(new MemoryBackend(), { prefix: 'memoizer-ref' });
    const memoizer = createMemoizer({ byReference: true });
    const hold = gate();
    const original = { list: [{ id: 1 }], meta: { n: 1 } };
    const call = {
      key: 'ns:ref',
      ttl: 60,
      compute: async () => {
        await hold.promise;
        return original;
      },
    };
    const pending = Array.from({ length: 3 }, () => memoizer.computeThrough(cache, call));
    hold.open();
    const outcomes = await Promise.all(pending);
    const shared = outcomes[0]!.data as typeof original;
    expect(shared).toEqual(original);
    // The resolver's own object is left alone; every call gets the entry's frozen value.
    expect(shared).not.toBe(original);
    expect(Object.isFrozen(original)).toBe(false);
    for (const outcome of outcomes) expect(outcome.data).toBe(shared);
    expect(outcomes.map((outcome) => outcome.source)).toEqual(['miss', 'hit', 'hit']);
    expect((await memoizer.read(cache, 'ns:ref'))?.value).toBe(shared);
    expect(() => {
      shared.meta.n = 2;
    }).toThrow(TypeError);
    expect(() => shared.list.push({ id: 2 })).toThrow(TypeError);
    // A copying memoizer of the same cache still gets fresh, mutable copies.
    const copy = (await createMemoizer().read(cache, 'ns:ref'))?.value as typeof original;
    expect(copy).toEqual(original);
    copy.meta.n = 3;
    expect(shared.meta.n).toBe(1);
  });

  it('shares a value that cannot be encoded as the resolver returned it (not stored, not frozen)', async () => {
    const cache = createCache(new MemoryBackend(), { prefix: 'memoizer-ref', onError: () => {} });
    const memoizer = createMemoizer({ byReference: true });
    const value = { run: () => 1 };
    const outcome = await memoizer.memoize(cache, { key: 'ns:fn', ttl: 60, compute: async () => value });
    expect(outcome).toMatchObject({ source: 'miss', stored: false });
    expect(outcome.data).toBe(value);
    expect(Object.isFrozen(value)).toBe(false);
  });

  it('answers a hit without a promise when the backend answers synchronously', async () => {
    const cache = createCache(new MemoryBackend(), { prefix: 'memoizer-sync' });
    const memoizer = createMemoizer();
    await memoizer.memoize(cache, { key: 'ns:s', ttl: 60, compute: async () => ({ a: 1 }) });
    const read = memoizer.read(cache, 'ns:s');
    expect(read).not.toBeInstanceOf(Promise);
    expect(read).toMatchObject({ value: { a: 1 } });
    expect(memoizer.read(cache, 'ns:s', memoizer.backendKey(cache, 'ns:s'))).toMatchObject({
      value: { a: 1 },
    });
    expect(memoizer.read(cache, 'ns:absent')).toBeUndefined();
  });
});

const tiers: TieredBackend[] = [];
afterAll(async () => {
  await Promise.all(tiers.map((tier) => tier.close()));
});

describe.each<[string, () => CacheBackend]>([
  ['memory', () => new MemoryBackend()],
  [
    "a tier's L1",
    () => {
      const tier = new TieredBackend(REDIS_URL, { ...patient, channel: `memoizer-test-${randomUUID()}` });
      tiers.push(tier);
      return tier;
    },
  ],
])('a hit on an entry with tags computed from its result, on %s', (_name, make) => {
  const plan = (prefetched: Prefetched): GuardPlan => ({
    keys: [],
    tags: [],
    prefetched,
    tagsOf: (data) => [`post:${(data as { id: number }).id}`],
  });

  it('is answered without a promise: its tags read in advance once the memoizer saw the entry, else vouched for by the epoch', async () => {
    const cache = createCache(make(), { prefix: `memoizer-tags-${randomUUID().slice(0, 8)}` });
    const memoizer = createMemoizer();
    const key = 'ns:post';
    const compute = async () => ({ id: 1 });
    await memoizer.memoize(cache, {
      key,
      ttl: 60,
      compute,
      guards: plan(memoizer.prefetch(cache, key, [], true)),
    });
    // What a hit runs, as memorize runs it: prefetch, read, check.
    const hit = (reader: typeof memoizer) => {
      const prefetched = reader.prefetch(cache, key, [], true);
      const entry = reader.read(cache, key);
      if (entry instanceof Promise || entry?.guarded === undefined) return { prefetched, held: entry };
      return { prefetched, held: reader.holds(cache, key, entry.guarded, prefetched, []) };
    };
    // A tier fills its L1 from the reads: until then, they answer with promises.
    const synchronous = () =>
      [hit(memoizer), hit(createMemoizer())].every(({ held }) => typeof held === 'boolean');
    for (let i = 0; i < 100 && !synchronous(); i++)
      await Promise.all([hit(memoizer).held, hit(createMemoizer()).held]);
    const seen = hit(memoizer);
    expect([...seen.prefetched.keys()]).toEqual([tagStateKey('post:1')]);
    expect(seen.held).toBe(true);
    // A memoizer that never saw it (another process): the epoch instead, as synchronous.
    const fresh = hit(createMemoizer());
    expect([...fresh.prefetched.keys()]).toEqual([EPOCH_STATE]);
    expect(fresh.held).toBe(true);
    await cache.clear();
  });
});
