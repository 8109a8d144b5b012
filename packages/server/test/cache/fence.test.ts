/**
 * The fence of a namespace (`fence.ts`): a path or input invalidation, or
 * `clear({ namespace })`, made while a computation of that namespace runs keeps the
 * result that computation read before it out of the cache — on memory, Redis and a
 * 3-master Redis Cluster, through `invalidate()`, a mutation's `invalidates`,
 * `clear()`, `memorize` and `memorizeFn`, and across two `TieredBackend` instances.
 * An invalidation of another namespace leaves the result stored. A fence that cannot
 * be read keeps results out, reported. Resolvers wait on gates the tests open once
 * the invalidation has completed; their runs are counted.
 */
import { randomUUID } from 'node:crypto';
import { type AnyTRPCRouter, initTRPC } from '@trpc/server';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { MemoryBackend } from '../../src/backends/memory.js';
import { RedisBackend } from '../../src/backends/redis.js';
import { TieredBackend } from '../../src/backends/tiered.js';
import type { CacheBackend, FlightCoordinator } from '../../src/backends/types.js';
import { type Cache, type CacheErrorEvent, createCache } from '../../src/cache/cache.js';
import {
  fenceStateKey,
  namespacePart,
  plainKeyPart,
  prefixPart,
  rawInputKey,
  scopeSegment,
  stableKey,
  tagStateKey,
  userKeySegment,
} from '../../src/cache/key.js';
import { cacheHeaders } from '../../src/middleware/cache-headers.js';
import { invalidates } from '../../src/middleware/invalidates.js';
import { invalidate } from '../../src/middleware/invalidation.js';
import { memorize } from '../../src/middleware/memorize.js';
import { memorizeFn } from '../../src/middleware/memorize-fn.js';
import { trickyString, typedValue } from '../helpers/arbitraries.js';
import { type Gate, gate, watchReads } from '../helpers/in-flight.js';
import { clusterBackend, patient, testPort } from '../helpers/redis-server.js';
import { freezeTime, T0, until } from '../helpers/time.js';
import { entries, serve } from '../middleware/serve.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Ports reserved for this file.
const CLUSTER_PORTS: [number, number, number] = [testPort(17251), testPort(17252), testPort(17253)];

describe('fence keys', () => {
  const nonEmpty = trickyString(8, 1);

  it('meet no entry key, set() key, tag state or other prefix, and clear({ namespace }) never reaches them (property)', () => {
    fc.assert(
      fc.property(
        nonEmpty,
        nonEmpty,
        nonEmpty,
        nonEmpty,
        trickyString(8),
        typedValue,
        (prefix, otherPrefix, namespace, other, text, input) => {
          const head = `${prefixPart(prefix)}:`;
          const fence = head + fenceStateKey(namespace);
          for (const ns of [namespace, other]) {
            const namespaceHead = `${head}${namespacePart(ns)}:`;
            // clear({ namespace }) is deleteByPrefix(namespaceHead), whatever the namespace.
            expect(fence.startsWith(namespaceHead)).toBe(false);
            for (const entry of [
              namespaceHead + stableKey(input),
              namespaceHead + rawInputKey(input),
              namespaceHead + scopeSegment(text) + userKeySegment(text),
              head + plainKeyPart(text),
              head + tagStateKey(text),
            ]) {
              expect(entry).not.toBe(fence);
            }
          }
          expect(fenceStateKey(namespace) === fenceStateKey(other)).toBe(namespace === other);
          if (otherPrefix !== prefix) expect(fence.startsWith(`${prefixPart(otherPrefix)}:`)).toBe(false);
        },
      ),
      { numRuns: 2_000 },
    );
    // Well-formed text whatever the namespace: what Redis stores as UTF-8, byte for byte.
    expect(fenceStateKey('a\uD800:b%')).toBe('%N:a%uD800%3Ab%25');
  });
});

/** Counts the runs of a resolver per label. */
function runs() {
  const counts = new Map<string, number>();
  return {
    ran: (label: string) => counts.set(label, (counts.get(label) ?? 0) + 1),
    of: (label: string) => counts.get(label) ?? 0,
  };
}

/**
 * A post store with versions, `post.byId`, `post.list` and `post.mine` (scoped by
 * user) memorized, a mutation that invalidates one post, and `loadPost`
 * (memorizeFn); every resolver reads the data, then waits on `held.gate` while the
 * test lets the data change under it. Calls are made as user `u1`.
 */
function app(cache: Cache) {
  const t = initTRPC.context<{ user: string | null }>().create();
  const count = runs();
  const versions = new Map<string, number>();
  const version = (id: string) => versions.get(id) ?? 0;
  const edit = (id: string) => versions.set(id, version(id) + 1);
  const held: { gate: Gate | undefined } = { gate: undefined };
  const read = async (label: string, id: string) => {
    const seen = version(id);
    count.ran(label);
    await held.gate?.opened;
    return { id, version: seen };
  };
  const router = t.router({
    post: t.router({
      byId: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: 60, cache }))
        .query(({ input }) => read(`byId:${input.id}`, input.id)),
      list: t.procedure.use(memorize({ expire: 60, cache })).query(() => read('list', 'list')),
      mine: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: 60, cache, scope: (ctx: { user: string | null }) => ctx.user }))
        .query(({ input }) => read(`mine:${input.id}`, input.id)),
      edit: t.procedure
        .input(z.object({ id: z.string() }))
        .use(
          invalidates<object, { id: string }>(
            ({ input }) => [{ path: 'post.byId', input: { id: input.id } }],
            {
              router: (): AnyTRPCRouter => router,
              cache,
            },
          ),
        )
        .mutation(({ input }) => {
          edit(input.id);
          return true;
        }),
    }),
  });
  const loadPost = memorizeFn({ cache, namespace: 'loadPost', expire: 60 })(async (id: string) =>
    read(`loadPost:${id}`, id),
  );
  const caller = t.createCallerFactory(router)({ user: 'u1' });
  return { router, caller, count, edit, held, loadPost };
}

type App = ReturnType<typeof app>;

/**
 * Holds `call`'s computation after it read the data (version 0), runs `change` to
 * completion while it is held, then lets it finish. Returns what the held call got.
 */
async function whileComputing(
  subject: App,
  label: string,
  call: () => Promise<unknown>,
  change: () => Promise<unknown>,
): Promise<unknown> {
  const hold = gate();
  subject.held.gate = hold;
  const before = subject.count.of(label);
  const inFlight = call();
  await until(() => subject.count.of(label) === before + 1, { what: `${label} read its data` });
  await change();
  hold.open();
  subject.held.gate = undefined;
  return inFlight;
}

interface Subject {
  backend: CacheBackend;
  dispose: () => Promise<void>;
}

function fenceSuite(name: string, make: () => Promise<Subject>): void {
  describe(`invalidated while a computation is in flight, on ${name}`, () => {
    let subject: Subject;
    const caches: Cache[] = [];
    beforeAll(async () => {
      subject = await make();
    }, 60_000);
    afterAll(async () => {
      for (const cache of caches) await cache.clear();
      await subject?.dispose();
    });
    const freshApp = () => {
      const cache = createCache(subject.backend, { prefix: `fence-test-${randomUUID().slice(0, 8)}` });
      caches.push(cache);
      return { cache, ...app(cache) };
    };

    const sameNamespace: [string, (a: ReturnType<typeof freshApp>) => Promise<unknown>][] = [
      [
        'invalidate([{ path, input }])',
        ({ cache, router, edit }) => {
          edit('1');
          return invalidate([{ path: 'post.byId', input: { id: '1' } }], { cache, router: () => router });
        },
      ],
      [
        "invalidate(['post.byId'])",
        ({ cache, edit }) => {
          edit('1');
          return invalidate(['post.byId'], { cache });
        },
      ],
      [
        'cache.clear({ namespace })',
        ({ cache, edit }) => {
          edit('1');
          return cache.clear({ namespace: 'post.byId' });
        },
      ],
      ["a mutation's invalidates", ({ caller }) => caller.post.edit({ id: '1' })],
    ];
    for (const [how, change] of sameNamespace) {
      it(`${how}: the call answers with what it read, and that is not kept`, async () => {
        const subject = freshApp();
        const call = () => subject.caller.post.byId({ id: '1' });
        expect(await whileComputing(subject, 'byId:1', call, () => change(subject))).toEqual({
          id: '1',
          version: 0,
        });
        // The next call runs the resolver again and gets the new data, which then stays.
        expect(await call()).toEqual({ id: '1', version: 1 });
        expect(await call()).toEqual({ id: '1', version: 1 });
        expect(subject.count.of('byId:1')).toBe(2);
      });
    }

    it('a scoped input target (one scope): the call answers with what it read, and that is not kept', async () => {
      const subject = freshApp();
      const { cache, router, caller, count, edit } = subject;
      const call = () => caller.post.mine({ id: '1' });
      const got = await whileComputing(subject, 'mine:1', call, () => {
        edit('1');
        return invalidate([{ path: 'post.mine', input: { id: '1' }, scope: 'u1' }], {
          cache,
          router: () => router,
        });
      });
      expect(got).toEqual({ id: '1', version: 0 });
      expect(await call()).toEqual({ id: '1', version: 1 });
      expect(await call()).toEqual({ id: '1', version: 1 });
      expect(count.of('mine:1')).toBe(2);
    });

    it('an invalidation of another namespace meanwhile leaves the result stored', async () => {
      const subject = freshApp();
      const { cache, router, caller, count } = subject;
      const others: [string, () => Promise<unknown>][] = [
        ['a', () => invalidate(['post.list'], { cache })],
        ['b', () => invalidate([{ path: 'post.list' }], { cache, router: () => router })],
        ['c', () => cache.clear({ namespace: 'loadPost' })],
        ['d', () => invalidate([{ tag: 'post:d' }], { cache })],
      ];
      for (const [id, other] of others) {
        const call = () => caller.post.byId({ id });
        expect(await whileComputing(subject, `byId:${id}`, call, other)).toEqual({ id, version: 0 });
        expect(await call()).toEqual({ id, version: 0 });
        expect(count.of(`byId:${id}`)).toBe(1);
      }
    });

    it('through memorizeFn: an input target or the namespace, invalidated meanwhile, keeps the result out', async () => {
      const subject = freshApp();
      const { cache, edit, loadPost, count } = subject;
      const changes: [string, () => Promise<unknown>][] = [
        ['a', () => invalidate([{ path: 'loadPost', input: ['a'] }], { cache })],
        ['b', () => invalidate(['loadPost'], { cache })],
      ];
      for (const [id, change] of changes) {
        const load = () => loadPost(id);
        const got = await whileComputing(subject, `loadPost:${id}`, load, () => {
          edit(id);
          return change();
        });
        expect(got).toEqual({ id, version: 0 });
        expect(await load()).toEqual({ id, version: 1 });
        expect(await load()).toEqual({ id, version: 1 });
        expect(count.of(`loadPost:${id}`)).toBe(2);
      }
    });
  });
}

fenceSuite('MemoryBackend', async () => {
  const backend = new MemoryBackend();
  return { backend, dispose: async () => backend.close() };
});

fenceSuite('RedisBackend', async () => {
  const backend = new RedisBackend(REDIS_URL, patient);
  return { backend, dispose: () => Promise.resolve(backend.close()) };
});

fenceSuite('RedisBackend on a Redis Cluster', () => clusterBackend(CLUSTER_PORTS));

describe('the order of an invalidation’s steps', () => {
  /**
   * A memory backend whose first delete or deleteByPrefix once `armed` waits, after
   * it is applied, until the test resumes it: the computation then finishes between
   * the invalidation's first step and the rest.
   */
  function pausable() {
    const memory = new MemoryBackend();
    let armed: { reached: Gate; resume: Gate } | undefined;
    const afterWrite = async () => {
      const pause = armed;
      armed = undefined;
      if (pause === undefined) return;
      pause.reached.open();
      await pause.resume.opened;
    };
    const backend: CacheBackend = {
      name: 'pausable',
      get: (key) => memory.get(key),
      set: (key, value, ttl) => memory.set(key, value, ttl),
      delete: async (key) => {
        memory.delete(key);
        await afterWrite();
      },
      deleteByPrefix: async (prefix) => {
        memory.deleteByPrefix(prefix);
        await afterWrite();
      },
    };
    const arm = () => {
      armed = { reached: gate(), resume: gate() };
      return armed;
    };
    return { backend, arm };
  }

  const invalidations: [string, (a: App & { cache: Cache }) => Promise<unknown>][] = [
    [
      'an input target',
      ({ cache, router }) =>
        invalidate([{ path: 'post.byId', input: { id: '1' } }], { cache, router: () => router }),
    ],
    ['a path target', ({ cache }) => invalidate(['post.byId'], { cache })],
    ['cache.clear({ namespace })', ({ cache }) => cache.clear({ namespace: 'post.byId' })],
  ];
  for (const [how, run] of invalidations) {
    it(`${how} deletes the fence first: a result stored between its steps is not kept`, async () => {
      const { backend, arm } = pausable();
      const cache = createCache(backend, { prefix: 'paused' });
      const subject = { cache, ...app(cache) };
      const call = () => subject.caller.post.byId({ id: '1' });
      let invalidation: Promise<unknown> | undefined;
      let pause: ReturnType<typeof arm> | undefined;
      const got = await whileComputing(subject, 'byId:1', call, async () => {
        subject.edit('1');
        pause = arm();
        invalidation = run(subject);
        await pause.reached.opened;
      });
      // The computation stored and checked while the invalidation was between its steps.
      expect(got).toEqual({ id: '1', version: 0 });
      pause?.resume.open();
      await invalidation;
      expect(await call()).toEqual({ id: '1', version: 1 });
      expect(subject.count.of('byId:1')).toBe(2);
    });
  }
});

describe('a fence that cannot be read or deleted', () => {
  /** Memory, with reads (`get`) or deletes of fence keys failing while `fail` says so. */
  function faulty(fail: { get?: (full: string) => boolean; delete?: boolean }) {
    const memory = new MemoryBackend();
    const isFence = (key: string) => key.includes(':%N:');
    const backend: CacheBackend = {
      name: 'faulty',
      get: (key) =>
        isFence(key) && fail.get?.(key) === true ? Promise.reject(new Error('fence down')) : memory.get(key),
      set: (key, value, ttl) => memory.set(key, value, ttl),
      delete: (key) =>
        isFence(key) && fail.delete === true ? Promise.reject(new Error('fence down')) : memory.delete(key),
      deleteByPrefix: (prefix) => memory.deleteByPrefix(prefix),
    };
    return { memory, backend };
  }

  function counted(cache: Cache) {
    const t = initTRPC.create();
    let runs = 0;
    const router = t.router({ q: t.procedure.use(memorize({ expire: 60, cache })).query(() => ++runs) });
    return t.createCallerFactory(router)({});
  }

  it('unreadable before computing: nothing is stored, every call runs, the failure is reported', async () => {
    const { memory, backend } = faulty({ get: () => true });
    const events: CacheErrorEvent[] = [];
    const cache = createCache(backend, { prefix: 'no-fence', onError: (event) => events.push(event) });
    const c = counted(cache);
    expect([await c.q(), await c.q()]).toEqual([1, 2]);
    expect(memory.size).toBe(0);
    expect(events).toContainEqual(
      expect.objectContaining({ operation: 'get', key: 'no-fence:%N:q', backend: 'faulty' }),
    );
  });

  it('unreadable after storing: the entry just stored is deleted, every call runs, the failure is reported', async () => {
    const entry = `recheck:q:${stableKey(undefined)}`;
    // Readable while the entry is not stored (before computing), not once it is (the re-check).
    const state = { memory: undefined as MemoryBackend | undefined };
    const { memory, backend } = faulty({ get: () => state.memory?.get(entry) !== undefined });
    state.memory = memory;
    const events: CacheErrorEvent[] = [];
    const cache = createCache(backend, { prefix: 'recheck', onError: (event) => events.push(event) });
    const c = counted(cache);
    expect([await c.q(), await c.q()]).toEqual([1, 2]);
    expect(memory.get(entry)).toBeUndefined();
    expect(memory.get('recheck:%N:q')).toBeDefined();
    expect(events.filter((event) => event.operation === 'get' && event.key === 'recheck:%N:q')).toHaveLength(
      2,
    );
  });

  it('not deletable: invalidate() and clear({ namespace }) reject, reported, and still drop the entries', async () => {
    const { backend } = faulty({ delete: true });
    const events: CacheErrorEvent[] = [];
    const cache = createCache(backend, { prefix: 'stuck', onError: (event) => events.push(event) });
    const c = counted(cache);
    let expected = 1;
    expect(await c.q()).toBe(expected);
    for (const drop of [
      () => invalidate(['q'], { cache }),
      () => invalidate([{ path: 'q' }], { cache }),
      () => cache.clear({ namespace: 'q' }),
    ]) {
      expect(await c.q()).toBe(expected);
      await expect(drop()).rejects.toThrow('fence down');
      expect(await c.q()).toBe(++expected);
    }
    expect(events.filter((event) => event.operation === 'delete' && event.key === 'stuck:%N:q')).toHaveLength(
      3,
    );
  });
});

describe('over HTTP with cacheHeaders()', () => {
  it('a result invalidated while it was computed is reported as not stored: no TTL, no Cache-Control', async () => {
    freezeTime();
    const cache = createCache(new MemoryBackend(), { prefix: 'fence-http' });
    const subject = { cache, ...app(cache) };
    const server = await serve(subject.router, cacheHeaders());
    try {
      const get = () => server.batch([['post.byId', { id: '1' }]]);
      const raced = (await whileComputing(subject, 'byId:1', get, () =>
        invalidate(['post.byId'], { cache }),
      )) as Response;
      expect(await raced.json()).toEqual([{ result: { data: { id: '1', version: 0 } } }]);
      expect(entries(raced, 'trpc-memory-cache')).toEqual(['miss']);
      expect(entries(raced, 'trpc-memory-ttl')).toEqual(['-']);
      expect(raced.headers.get('cache-control')).toBeNull();
      const next = await get();
      expect(entries(next, 'trpc-memory-cache')).toEqual(['miss']);
      expect(entries(next, 'trpc-memory-ttl')).toEqual(['60.000']);
      expect(next.headers.get('cache-control')).toBe('public, max-age=60');
      expect(entries(await get(), 'trpc-memory-cache')).toEqual(['hit']);
    } finally {
      await server.close();
      vi.useRealTimers();
    }
  });
});

describe('across two TieredBackend instances', () => {
  // On one channel the bus tells the other instance at once; on two, never: that
  // stands for a bus slower than the whole race, so this instance's in-process copy
  // of the fence is stale when it checks.
  for (const channels of ['one channel', 'two channels (a bus slower than the race)'] as const) {
    it(`an invalidation on the other instance keeps the result out (${channels})`, async () => {
      const channel = `fence-test-${randomUUID()}`;
      const a = new TieredBackend(REDIS_URL, { ...patient, channel });
      const b = new TieredBackend(REDIS_URL, {
        ...patient,
        channel: channels === 'one channel' ? channel : `${channel}-b`,
      });
      const prefix = `fence-tiered-${randomUUID().slice(0, 8)}`;
      try {
        await until(() => a.busUp && b.busUp, { what: 'both buses came up' });
        const [here, there] = [a, b].map((backend) => createCache(backend, { prefix }));
        const subject = { cache: here!, ...app(here!) };
        const { loadPost, count, edit } = subject;
        // A first miss makes the namespace's fence, in Redis only: no instance's L1
        // holds a copy of it that could go stale.
        expect(await loadPost('0')).toEqual({ id: '0', version: 0 });
        expect(await b.l2.get(`${prefix}:%N:loadPost`)).toBeDefined();
        expect(a.hasInL1(`${prefix}:%N:loadPost`)).toBe(false);
        const got = await whileComputing(
          subject,
          'loadPost:1',
          () => loadPost('1'),
          () => {
            edit('1');
            return invalidate([{ path: 'loadPost', input: ['1'] }], { cache: there! });
          },
        );
        expect(got).toEqual({ id: '1', version: 0 });
        expect(await loadPost('1')).toEqual({ id: '1', version: 1 });
        expect(await loadPost('1')).toEqual({ id: '1', version: 1 });
        expect(count.of('loadPost:1')).toBe(2);
        await here!.clear();
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  }
});

describe('whoever stores', () => {
  it('the holder of a distributed flight: its late result is not kept, and the instances then compute the new one', async () => {
    const backends = [new RedisBackend(REDIS_URL, patient), new RedisBackend(REDIS_URL, patient)] as const;
    const prefix = `fence-dflight-${randomUUID().slice(0, 8)}`;
    // The second instance counts the turns that found the lock held (it then waits for the holder).
    let lockWaits = 0;
    const flights: FlightCoordinator = {
      async acquire(key, options) {
        const turn = await backends[1].flights.acquire(key, options);
        if (!turn.held) lockWaits++;
        return turn;
      },
    };
    const caches = [
      createCache(backends[0], { prefix }),
      createCache(Object.assign(watchReads(backends[1]), { flights }), { prefix }),
    ];
    let version = 0;
    let runs = 0;
    const hold = gate();
    // No poll within the test: the waiter looks when the holder releases (or its subscription comes up).
    const distributed = { lockTtl: 60, poll: 60 };
    const loads = caches.map((cache) =>
      memorizeFn({ cache, namespace: 'load', expire: 60, distributed })(async (_id: string) => {
        const seen = version;
        if (++runs === 1) await hold.opened;
        return seen;
      }),
    );
    try {
      const holder = loads[0]!('x');
      await until(() => runs === 1, { what: 'the holder read its data' });
      const waiter = loads[1]!('x');
      await until(() => lockWaits >= 1, { what: 'the waiter found the lock held' });
      version = 1;
      await invalidate([{ path: 'load', input: ['x'] }], { cache: caches[1]! });
      hold.open();
      expect(await holder).toBe(0);
      // The waiter's call overlaps the invalidation: it may be answered by the holder's
      // result if it looks in the one round trip between that store and its deletion
      // (when its subscription first comes up it looks again at once), else it computes.
      expect([0, 1]).toContain(await waiter);
      expect([await loads[0]!('x'), await loads[1]!('x')]).toEqual([1, 1]);
      expect(runs).toBe(2);
    } finally {
      await caches[0]!.clear();
      await Promise.all(backends.map((backend) => backend.close()));
    }
  });

  it('a staleWhileRevalidate refresh: what it read before the invalidation is not kept', async () => {
    freezeTime();
    const memory = new MemoryBackend();
    const deleted: string[] = [];
    const backend: CacheBackend = {
      name: 'memory',
      get: (key) => memory.get(key),
      set: (key, value, ttl) => memory.set(key, value, ttl),
      delete: (key) => {
        deleted.push(key);
        memory.delete(key);
      },
      deleteByPrefix: (prefix) => memory.deleteByPrefix(prefix),
    };
    const cache = createCache(backend, { prefix: 'fence-grace' });
    let version = 0;
    let runs = 0;
    let hold: Gate | undefined;
    const load = memorizeFn({ cache, namespace: 'load', expire: 1, staleWhileRevalidate: 60 })(
      async (_id: string) => {
        const seen = version;
        runs++;
        await hold?.opened;
        return seen;
      },
    );
    const entry = `fence-grace:load:${stableKey(['x'])}`;
    try {
      expect(await load('x')).toBe(0);
      vi.setSystemTime(T0 + 1_000);
      hold = gate();
      // Stale: answered at once, refreshed in the background.
      expect(await load('x')).toBe(0);
      await until(() => runs === 2, { what: 'the refresh read its data' });
      version = 1;
      await invalidate([{ path: 'load', input: ['x'] }], { cache });
      expect(deleted.filter((key) => key === entry)).toHaveLength(1);
      hold.open();
      // The refresh stores what it read, finds the fence moved, and deletes it again.
      await until(() => deleted.filter((key) => key === entry).length === 2, {
        what: 'the late refresh was dropped',
      });
      expect(await load('x')).toBe(1);
      expect(await load('x')).toBe(1);
      expect(runs).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
