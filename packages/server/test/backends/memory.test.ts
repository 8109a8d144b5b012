import { registerBackendSuite } from '@trpc-memory/server/test-suite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { createCache } from '../../src/cache/cache.js';
import { InvalidOptionError } from '../../src/errors.js';
import { sleep, until } from '../helpers/time.js';

registerBackendSuite(
  { describe, it, expect, beforeAll, afterAll },
  { name: 'MemoryBackend', make: () => new MemoryBackend() },
);

describe('MemoryBackend', () => {
  it('never holds more than maxEntries, evicting the least recently used', () => {
    const backend = new MemoryBackend({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) backend.set(key, key);
    backend.get('a'); // a is now more recent than b
    backend.set('d', 'd');
    expect(backend.size).toBe(3);
    expect(backend.get('b')).toBeUndefined();
    expect(['a', 'c', 'd'].map((key) => backend.get(key))).toEqual(['a', 'c', 'd']);
    for (let i = 0; i < 1_000; i++) backend.set(`k${i}`, 'x');
    expect(backend.size).toBe(3);
    backend.close();
  });

  it('bounds the stored bytes with maxBytes and refuses a single entry larger than it', () => {
    const backend = new MemoryBackend({ maxBytes: 1_000 });
    for (let i = 0; i < 100; i++) backend.set(`k${i}`, 'x'.repeat(40)); // ~ 84-86 bytes each
    expect(backend.size).toBeLessThanOrEqual(12);
    expect(backend.get('k99')).toBe('x'.repeat(40));
    backend.set('huge', 'x'.repeat(600));
    expect(backend.get('huge')).toBeUndefined();
    backend.close();
  });

  // Real time in these two: MemoryBackend's entries expire on lru-cache's own clock
  // (performance.now, taken when it loads), which fake timers do not reach.
  it('sweeps expired entries nobody reads, so they stop holding memory', async () => {
    const backend = new MemoryBackend({ purgeInterval: 0.05 });
    for (let i = 0; i < 100; i++) backend.set(`short${i}`, 'x', 0.02);
    backend.set('kept', 'x');
    expect(backend.size).toBe(101);
    // Nothing reads them: only the sweep can drop them.
    await until(() => backend.size === 1, { what: 'the sweep dropped the 100 expired entries' });
    expect(backend.get('kept')).toBe('x');
    backend.close();
  });

  it('without the sweep still never returns an expired entry', async () => {
    const backend = new MemoryBackend({ purgeInterval: 0 });
    backend.set('k', 'x', 0.02);
    // At least its ttl, however slow the machine: an expired entry is the point.
    await sleep(50);
    expect(backend.get('k')).toBeUndefined();
    backend.close();
  });

  it('rejects bad options with a message naming the option, the value and what is allowed', () => {
    expect(() => new MemoryBackend({ maxEntries: 0 })).toThrow(InvalidOptionError);
    expect(() => new MemoryBackend({ maxEntries: 1.5 })).toThrow(
      /"maxEntries" must be an integer from 1 to .*got 1\.5/,
    );
    expect(() => new MemoryBackend({ maxBytes: -1 })).toThrow(/"maxBytes"/);
    expect(() => new MemoryBackend({ purgeInterval: Number.NaN })).toThrow(/"purgeInterval"/);
  });

  it('close() empties it', async () => {
    const backend = new MemoryBackend();
    const cache = createCache(backend, { prefix: 'p' });
    await cache.set('k', 1);
    backend.close();
    expect(await cache.get('k')).toBeUndefined();
    expect(backend.size).toBe(0);
  });
});
