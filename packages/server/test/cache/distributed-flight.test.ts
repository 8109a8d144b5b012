/**
 * The distributed flight of the memoizer core, in one process: two caches on two
 * RedisBackends of their own (two connections, as two processes have) sharing a
 * prefix. The multi-process tests are in test/distributed at the repository root.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { RedisBackend } from '../../src/backends/redis.js';
import type { CacheBackend, FlightCoordinator } from '../../src/backends/types.js';
import { type CacheErrorEvent, type CacheStaleEvent, createCache } from '../../src/cache/cache.js';
import { flightsOf } from '../../src/cache/distributed-flight.js';
import { memorizeFn } from '../../src/middleware/memorize-fn.js';
import { gate, untilJoined, type WatchedBackend, watchReads } from '../helpers/in-flight.js';
import { closedPort, patient } from '../helpers/redis-server.js';
import { until } from '../helpers/time.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const opened: CacheBackend[] = [];
afterAll(async () => {
  for (const backend of opened) await backend.close?.();
});

function redis(): RedisBackend {
  const backend = new RedisBackend(REDIS_URL, patient);
  opened.push(backend);
  return backend;
}

/**
 * `backend` with its reads in flight counted ({@link watchReads}) and its lock too:
 * `waits()` counts the turns that found the lock held elsewhere (the call then waits
 * for that computation).
 */
function watched(backend: RedisBackend): { backend: WatchedBackend; waits: () => number } {
  let waits = 0;
  const flights: FlightCoordinator = {
    async acquire(key, options) {
      const turn = await backend.flights.acquire(key, options);
      if (!turn.held) waits++;
      return turn;
    },
  };
  return { backend: Object.assign(watchReads(backend), { flights }), waits: () => waits };
}

/** Two "instances" of one memorized function on one Redis. */
function twoInstances(resolve: (id: string) => Promise<unknown>, options: object = {}) {
  const prefix = `dflight-${randomUUID().slice(0, 8)}`;
  const events: CacheStaleEvent[] = [];
  const instances = [watched(redis()), watched(redis())];
  return {
    events,
    /** Turns, in either instance, that found the lock held by the other. */
    lockWaits: () => instances.reduce((sum, instance) => sum + instance.waits(), 0),
    loads: instances.map(({ backend }) =>
      memorizeFn({
        cache: createCache(backend, { prefix, onStale: (e) => events.push(e) }),
        expire: 60,
        ...options,
      })(async function load(id: string) {
        return resolve(id);
      }),
    ),
  };
}

describe('distributed flight', () => {
  it('finds the lock of a RedisBackend, of the L2 behind a tiered backend, and none on the memory backend', () => {
    const backend = redis();
    expect(flightsOf(backend)).toBe(backend.flights);
    const tiered = Object.assign(new MemoryBackend(), { l2: backend });
    expect(flightsOf(tiered)).toBe(backend.flights);
    expect(flightsOf(new MemoryBackend())).toBeUndefined();
  });

  it('runs the resolver once for concurrent misses on two instances, and each caller gets its own copy', async () => {
    let runs = 0;
    const upstream = gate();
    const { loads, lockWaits } = twoInstances(
      async (id) => {
        runs++;
        await upstream.opened;
        return { id, list: [1, 2] };
      },
      { distributed: true },
    );
    const calls = Promise.all(loads.flatMap((load) => [load('a'), load('a'), load('a')]));
    // The resolver runs in one instance while the other's miss waits on its lock.
    await until(() => runs === 1 && lockWaits() > 0, {
      what: 'one instance computing, the other waiting on its lock',
    });
    upstream.open();
    const results = await calls;
    expect(runs).toBe(1);
    expect(new Set(results).size).toBe(6);
    for (const result of results) expect(result).toEqual({ id: 'a', list: [1, 2] });
  });

  it('without distributed, each instance runs it (in-process single-flight only)', async () => {
    let runs = 0;
    // Each run waits until the other instance's has started too: only two
    // independent runs can get past it (one would wait forever, failing the test).
    let bothStarted!: () => void;
    const started = new Promise<void>((resolve) => (bothStarted = resolve));
    const { loads } = twoInstances(async (id) => {
      if (++runs === 2) bothStarted();
      await started;
      return id;
    });
    await Promise.all(loads.flatMap((load) => [load('a'), load('a')]));
    expect(runs).toBe(2);
  });

  it('staleWhileRevalidate: one background refresh across both instances', async () => {
    let runs = 0;
    let version = 1;
    const refresh = gate();
    const { loads, events, lockWaits } = twoInstances(
      async () => {
        // The refresh (the second run) waits until the other instance's refresh waits on its lock.
        if (++runs > 1) await refresh.opened;
        return version;
      },
      { expire: 0.2, staleWhileRevalidate: 60, distributed: true },
    );
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      expect(await loads[0]!('k')).toBe(1);
      version = 2;
      // Past the entry's expire (the entry's clock; Redis keeps it for 60.2 s).
      vi.setSystemTime(Date.now() + 200);
      expect(await Promise.all(loads.map((load) => load('k')))).toEqual([1, 1]);
      expect(events.map((event) => event.type)).toEqual(['revalidate', 'revalidate']);
      await until(() => runs === 2 && lockWaits() > 0, {
        what: "one refresh running, the other instance's waiting on its lock",
      });
      refresh.open();
      // The refreshed value is stored: the next call gets it.
      await until(async () => (await loads[1]!('k')) === 2, { what: 'the refresh stored' });
      expect(await loads[0]!('k')).toBe(2);
      expect(runs).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('Redis unreachable: computes with in-process single-flight, reports the lock failure, fails nothing', async () => {
    const unreachable = new RedisBackend(`redis://127.0.0.1:${await closedPort()}`, { commandTimeout: 0.5 });
    opened.push(unreachable);
    const { backend } = watched(unreachable);
    const errors: CacheErrorEvent[] = [];
    let runs = 0;
    const upstream = gate();
    const load = memorizeFn({
      cache: createCache(backend, { onError: (event) => errors.push(event) }),
      expire: 60,
      distributed: true,
    })(async function load(id: string) {
      runs++;
      await upstream.opened;
      return id;
    });
    const calls = [load('a'), load('a'), load('a')];
    // Every call's read failed and the two that did not compute joined the one that does.
    await untilJoined(
      backend,
      () => calls.length,
      3,
      () => runs,
    );
    upstream.open();
    expect(await Promise.all(calls)).toEqual(['a', 'a', 'a']);
    expect(runs).toBe(1);
    expect(errors.map((event) => event.operation)).toContain('lock');
  });
});
