import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { createCache } from '../../src/cache/cache.js';
import { coreOf } from '../../src/cache/cache-internals.js';
import { now } from '../../src/cache/clock.js';

const T0 = Date.UTC(2030, 0, 1);

describe('the server clock', () => {
  beforeEach(() => {
    // Date and timers only: `performance.now()` stays real, so these tests also show
    // that nothing decides an expiry on a clock of its own.
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('follows fake timers', () => {
    expect(now()).toBe(T0);
    vi.advanceTimersByTime(1_234);
    expect(now()).toBe(T0 + 1_234);
  });

  it('decides entry expiry at the exact boundary', async () => {
    const cache = createCache(new MemoryBackend(), { prefix: 'clock' });
    await cache.set('k', { v: 1 }, { expire: 10 });
    expect(await coreOf(cache).read('k')).toEqual({ value: { v: 1 }, expiresAt: T0 + 10_000 });
    vi.advanceTimersByTime(9_999);
    expect(await cache.get('k')).toEqual({ v: 1 });
    vi.advanceTimersByTime(1);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('drives the memory backend TTLs', () => {
    const backend = new MemoryBackend({ purgeInterval: 0 });
    backend.set('a', 'x', 2);
    vi.advanceTimersByTime(2_000);
    expect(backend.get('a')).toBe('x');
    vi.advanceTimersByTime(1);
    expect(backend.get('a')).toBeUndefined();
  });
});
