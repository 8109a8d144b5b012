import { initTRPC } from '@trpc/server';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { createCache } from '../../src/cache/cache.js';
import { coreOf } from '../../src/cache/cache-internals.js';
import { CacheManager } from '../../src/cache/manager.js';
import { CacheNotInitializedError, InvalidOptionError } from '../../src/errors.js';
import { memorize } from '../../src/middleware/memorize.js';
import { type Ctx, counter, memorizeSuite } from './memorize-suite.js';

memorizeSuite('MemoryBackend', () => {
  const backend = new MemoryBackend();
  return { backend, dispose: () => backend.close() };
});

describe('memorize options', () => {
  it.each([
    [{ expire: 0 }, 'expire'],
    [{ expire: -1 }, 'expire'],
    [{ expire: Number.NaN }, 'expire'],
    [{ expire: Number.POSITIVE_INFINITY }, 'expire'],
    [{ expire: '60' }, 'expire'],
    [{ scope: 'private' }, 'scope'],
    [{ scope: null }, 'scope'],
    [{ key: 'id' }, 'key'],
    [{ namespace: '' }, 'namespace'],
    [{ namespace: 7 }, 'namespace'],
    [{ cache: {} }, 'cache'],
    [{ ttl: 60 }, 'ttl'],
  ])('rejects %o when memorize() is called', (options, option) => {
    let error: unknown;
    try {
      memorize(options as never);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ where: 'memorize()', option });
    expect((error as Error).message).toContain(`"${option}"`);
  });

  it('refuses at once a cache lacking a method memorize calls on a miss', () => {
    // Only what a hit needs: it used to pass the check and fail every miss.
    const partial = { read: async () => undefined, write: async () => null, expire: undefined };
    expect(() => memorize({ cache: partial as never })).toThrow(
      /option "cache" must be a cache made by createCache\(\)/,
    );
  });

  it('refuses a look-alike of a cache: only createCache() makes one, whatever its methods', () => {
    const cache = createCache(new MemoryBackend());
    const lookAlike = Object.create(null) as Record<string, unknown>;
    for (const name of ['read', 'readStored', 'store', 'decodeStored', 'write', 'get', 'set', 'clear']) {
      lookAlike[name] = async () => undefined;
    }
    expect(() => memorize({ cache: lookAlike as never })).toThrow(
      /option "cache" must be a cache made by createCache\(\)/,
    );
    expect(() => memorize({ cache })).not.toThrow();
  });

  it('names the value and what is allowed', () => {
    expect(() => memorize({ expire: -5 })).toThrow(
      'memorize(): option "expire" must be a finite number of seconds > 0 (or omitted), got -5',
    );
  });

  it('accepts fractions of a second and the documented scopes', () => {
    expect(() => memorize({ expire: 0.05 })).not.toThrow();
    expect(() => memorize({ scope: 'public' })).not.toThrow();
    expect(() => memorize<Ctx>({ scope: (ctx) => ctx.user })).not.toThrow();
    expect(() => memorize()).not.toThrow();
  });
});

describe('memorize and the global cache', () => {
  afterEach(() => CacheManager.reset());

  it('looks the global cache up at call time, so routers can be defined before initCache', async () => {
    const t = initTRPC.context<Ctx>().create();
    const load = counter(() => 'value');
    const router = t.router({ q: t.procedure.use(memorize({ expire: 60 })).query(() => load(1)) });
    const caller = t.createCallerFactory(router)({ user: null });

    const error = await caller.q().catch((e: unknown) => e);
    expect((error as Error).cause).toBeInstanceOf(CacheNotInitializedError);
    expect((error as Error).message).toMatch(/initCache\(\)/);
    expect(load.runs).toBe(0);

    CacheManager.init(new MemoryBackend(), { prefix: 'global' });
    await caller.q();
    await caller.q();
    expect(load.runs).toBe(1);
    expect(await coreOf(CacheManager.instance).read('q:=undefined')).toMatchObject({ value: 'value' });

    // A new init replaces the cache: the old entries are not seen any more.
    CacheManager.init(new MemoryBackend(), { prefix: 'global' });
    await caller.q();
    expect(load.runs).toBe(2);
  });

  it('prefers an explicit cache', async () => {
    CacheManager.init(new MemoryBackend(), { prefix: 'global' });
    const own = createCache(new MemoryBackend(), { prefix: 'own' });
    const t = initTRPC.context<Ctx>().create();
    const router = t.router({ q: t.procedure.use(memorize({ expire: 60, cache: own })).query(() => 1) });
    await t.createCallerFactory(router)({ user: null }).q();
    expect(await coreOf(own).read('q:=undefined')).toMatchObject({ value: 1 });
    expect(await coreOf(CacheManager.instance).read('q:=undefined')).toBeUndefined();
  });
});
