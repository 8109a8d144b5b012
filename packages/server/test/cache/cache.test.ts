import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import type { CacheBackend } from '../../src/backends/types.js';
import { type CacheErrorEvent, createCache } from '../../src/cache/cache.js';
import { coreOf } from '../../src/cache/cache-internals.js';
import { CacheManager, clearCache, initCache } from '../../src/cache/manager.js';
import {
  CacheNotInitializedError,
  CodecError,
  InvalidOptionError,
  TrpcMemoryError,
} from '../../src/errors.js';
import { freezeTime, T0 } from '../helpers/time.js';

/** A user-written backend (the interface is public) whose store can be switched off. */
class SwitchableBackend implements CacheBackend {
  readonly name = 'switchable';
  readonly inner = new MemoryBackend({ purgeInterval: 0 });
  broken = false;
  #check() {
    if (this.broken) throw new Error('store is down');
  }
  get(key: string) {
    this.#check();
    return this.inner.get(key);
  }
  async set(key: string, value: string, ttl?: number) {
    this.#check();
    this.inner.set(key, value, ttl);
  }
  delete(key: string) {
    this.#check();
    this.inner.delete(key);
  }
  async deleteByPrefix(prefix: string) {
    this.#check();
    this.inner.deleteByPrefix(prefix);
  }
}

afterEach(() => {
  CacheManager.reset();
  vi.useRealTimers();
});

describe('createCache', () => {
  it('stores under "<prefix>:<key>"', async () => {
    const backend = new MemoryBackend();
    const cache = createCache(backend, { prefix: 'app' });
    await cache.set('user:1', { name: 'Ada' });
    expect(backend.get('app:user:1')).toMatch(/^\|J/);
    expect(createCache(backend).fullKey('k')).toBe('trpc-memory:k');
  });

  it('reports backend failures through onError and serves them as misses', async () => {
    const events: CacheErrorEvent[] = [];
    const backend = new SwitchableBackend();
    const cache = createCache(backend, { prefix: 'p', onError: (event) => events.push(event) });
    await cache.set('k', 1);
    backend.broken = true;
    expect(await cache.get('k')).toBeUndefined();
    expect(await coreOf(cache).read('k')).toBeUndefined();
    await expect(cache.set('k', 2)).resolves.toBeUndefined();
    expect(await coreOf(cache).write('k', 2, 10)).toBeNull();
    expect(events.map((event) => [event.operation, event.key, event.backend])).toEqual([
      ['get', 'p:k', 'switchable'],
      ['get', 'p:k', 'switchable'],
      ['set', 'p:k', 'switchable'],
      ['set', 'p:k', 'switchable'],
    ]);
    expect((events[0]!.error as Error).message).toBe('store is down');
  });

  it('rejects a failed clear() after reporting it (stale data must not look cleared)', async () => {
    const events: CacheErrorEvent[] = [];
    const backend = new SwitchableBackend();
    const cache = createCache(backend, { prefix: 'p', onError: (event) => events.push(event) });
    backend.broken = true;
    await expect(cache.clear()).rejects.toThrow('store is down');
    await expect(cache.clear({ key: 'k' })).rejects.toThrow('store is down');
    expect(events.map((event) => [event.operation, event.key])).toEqual([
      ['clear', 'p:'],
      ['clear', 'p:k'],
    ]);
  });

  it('a throwing onError hook never turns a miss into a failure', async () => {
    const backend = new SwitchableBackend();
    backend.broken = true;
    const cache = createCache(backend, {
      onError: () => {
        throw new Error('hook bug');
      },
    });
    expect(await cache.get('k')).toBeUndefined();
  });

  it('reads a corrupt entry as a miss and reports it as a decode error', async () => {
    const events: CacheErrorEvent[] = [];
    const backend = new MemoryBackend();
    const cache = createCache(backend, { prefix: 'p', onError: (event) => events.push(event) });
    backend.set('p:k', 'not an entry');
    expect(await cache.get('k')).toBeUndefined();
    expect(events).toMatchObject([{ operation: 'decode', key: 'p:k', error: expect.any(CodecError) }]);
  });

  it('write() of a value that cannot be encoded reports it and returns null; set() rejects', async () => {
    const events: CacheErrorEvent[] = [];
    const cache = createCache(new MemoryBackend(), { onError: (event) => events.push(event) });
    class Thing {}
    expect(await coreOf(cache).write('k', { thing: new Thing() }, 10)).toBeNull();
    expect(events).toMatchObject([{ operation: 'encode', error: expect.any(CodecError) }]);
    await expect(cache.set('k', () => 1)).rejects.toThrow(CodecError);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('write() returns the absolute expiry in epoch ms, undefined without expire', async () => {
    freezeTime();
    const cache = createCache(new MemoryBackend());
    const expiresAt = await coreOf(cache).write('k', 1, 2);
    expect(expiresAt).toBe(T0 + 2_000);
    expect((await coreOf(cache).read('k'))?.expiresAt).toBe(expiresAt);
    expect(await coreOf(cache).write('forever', 1, undefined)).toBeUndefined();
  });

  // On the frozen clock; the backend's own expiry (real time) is the backend suite's subject.
  it('set() without expire uses the default expire, to the millisecond; neither means no expiry', async () => {
    freezeTime();
    const backend = new MemoryBackend();
    const withDefault = createCache(backend, { prefix: 'default', expire: 30 });
    const noDefault = createCache(backend, { prefix: 'none' });
    await withDefault.set('d', 1);
    await withDefault.set('long', 2, { expire: 60 });
    await noDefault.set('n', 3);
    vi.setSystemTime(T0 + 29_999);
    expect(await withDefault.get('d')).toBe(1);
    vi.setSystemTime(T0 + 30_000);
    expect(await withDefault.get('d')).toBeUndefined();
    expect(await withDefault.get('long')).toBe(2);
    vi.setSystemTime(T0 + 60_000);
    expect(await withDefault.get('long')).toBeUndefined();
    vi.setSystemTime(T0 + 10 * 365 * 86_400_000);
    expect(await noDefault.get('n')).toBe(3);
  });

  it('rejects bad options naming the option, the value and what is allowed', async () => {
    const backend = new MemoryBackend();
    expect(() => createCache(backend, { prefix: '' })).toThrow(/"prefix" must be a non-empty string, got ""/);
    expect(() => createCache(backend, { expire: 0 })).toThrow(InvalidOptionError);
    expect(() => createCache(backend, { expire: Number.POSITIVE_INFINITY })).toThrow(/"expire"/);
    const cache = createCache(backend);
    await expect(cache.set('k', 1, { expire: -1 })).rejects.toThrow(/cache\.set\(\): option "expire"/);
    await expect(cache.clear({ namespace: 5 as unknown as string })).rejects.toThrow(
      /"namespace" must be a string/,
    );
  });
});

describe('CacheManager', () => {
  it('before init: every call is a CacheNotInitializedError that says to call initCache()', async () => {
    expect(CacheManager.initialized).toBe(false);
    await expect(CacheManager.get('k')).rejects.toThrow(CacheNotInitializedError);
    await expect(CacheManager.set('k', 1)).rejects.toThrow(/initCache\(\)/);
    await expect(clearCache()).rejects.toThrow(CacheNotInitializedError);
    expect(() => CacheManager.instance).toThrow(CacheNotInitializedError);
  });

  it('get/set/clear under the prefix, with the default expire from init', async () => {
    freezeTime();
    const backend = new MemoryBackend();
    CacheManager.init(backend, { prefix: 'app-cache', expire: 60 });
    await CacheManager.set('my-key', { data: 'value' });
    expect(await CacheManager.get('my-key')).toStrictEqual({ data: 'value' });
    vi.setSystemTime(T0 + 59_999);
    expect(await CacheManager.get('my-key')).toStrictEqual({ data: 'value' });
    vi.setSystemTime(T0 + 60_000);
    expect(await CacheManager.get('my-key')).toBeUndefined();
    await CacheManager.set('my-key', { data: 'value' });
    await CacheManager.set('null', null, { expire: 10 });
    expect(await CacheManager.get('null')).toBeNull();
    await clearCache({ key: 'null' });
    expect(await CacheManager.get('null')).toBeUndefined();
    expect(await CacheManager.get('my-key')).toStrictEqual({ data: 'value' });
    await clearCache();
    expect(backend.size).toBe(0);
  });

  it('a second init replaces the first; reset() forgets it', async () => {
    const first = new MemoryBackend();
    const second = new MemoryBackend();
    CacheManager.init(first, { prefix: 'one' });
    await CacheManager.set('k', 1);
    CacheManager.init(second, { prefix: 'two', expire: 5 });
    expect(CacheManager.instance.prefix).toBe('two');
    expect(await CacheManager.get('k')).toBeUndefined();
    await CacheManager.set('k', 2);
    expect(second.get('two:k')).toBeDefined();
    expect(first.get('one:k')).toBeDefined(); // a backend you passed is not touched
    CacheManager.reset();
    expect(CacheManager.initialized).toBe(false);
  });

  it('a bad init keeps the previous configuration', async () => {
    CacheManager.init(new MemoryBackend(), { prefix: 'kept' });
    expect(() => CacheManager.init(new MemoryBackend(), { expire: -5 })).toThrow(InvalidOptionError);
    expect(CacheManager.instance.prefix).toBe('kept');
  });
});

describe('initCache', () => {
  it('defaults to a memory backend with the given prefix, expire and bounds', async () => {
    const cache = await initCache({ prefix: 'mem', expire: 30, maxEntries: 2 });
    expect(CacheManager.instance).toBe(cache);
    expect(cache.backend).toBeInstanceOf(MemoryBackend);
    for (const key of ['a', 'b', 'c']) await CacheManager.set(key, key);
    expect((cache.backend as MemoryBackend).size).toBe(2);
  });

  it('closes the backend it made when replaced', async () => {
    const first = await initCache({ prefix: 'a' });
    await CacheManager.set('k', 1);
    await initCache({ prefix: 'b' });
    expect((first.backend as MemoryBackend).size).toBe(0);
  });

  it('rejects an unknown backend, a missing or bad url, and bad cache options, before connecting', async () => {
    await expect(initCache({ backend: 'memcached' as 'memory' })).rejects.toThrow(
      /initCache\(\): option "backend" must be 'memory' or 'redis', got "memcached"/,
    );
    await expect(initCache({ backend: 'redis' } as never)).rejects.toThrow(
      /option "url" must be a redis:\/\/ or rediss:\/\/ URL/,
    );
    await expect(initCache({ backend: 'redis', url: 'http://localhost' })).rejects.toThrow(
      InvalidOptionError,
    );
    await expect(initCache({ backend: 'redis', url: 'redis://127.0.0.1:6379', expire: 0 })).rejects.toThrow(
      /initCache\(\): option "expire"/,
    );
    expect(CacheManager.initialized).toBe(false);
  });

  it("backend 'redis' works against the local Redis, and CacheManager.close() closes the connection", async () => {
    const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const prefix = `init-${Math.random().toString(36).slice(2)}`;
    const cache = await initCache({ backend: 'redis', url, prefix, expire: 5, commandTimeout: 1 });
    expect(cache.backend.name).toBe('redis');
    await CacheManager.set('k', { at: new Date(0) });
    expect(await CacheManager.get('k')).toStrictEqual({ at: new Date(0) });
    await clearCache();
    expect(await CacheManager.get('k')).toBeUndefined();
    const client = (cache.backend as unknown as { client: { status: string } }).client;
    await CacheManager.close();
    expect(client.status).toBe('end');
    expect(CacheManager.initialized).toBe(false);
  });

  it('errors thrown on purpose are TrpcMemoryErrors', async () => {
    await expect(initCache({ backend: 'x' as 'memory' })).rejects.toBeInstanceOf(TrpcMemoryError);
  });
});
