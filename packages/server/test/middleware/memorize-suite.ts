/**
 * memorize's behaviour, run against every backend (memory, Redis): through
 * `createCaller` and over real HTTP (standalone adapter on 127.0.0.1:0 and
 * `@trpc/client`).
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import { type AnyTRPCRouter, initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import superjson from 'superjson';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { CacheBackend } from '../../src/backends/types.js';
import { type Cache, type CacheOptions, createCache } from '../../src/cache/cache.js';
import { coreOf } from '../../src/cache/cache-internals.js';
import { readCallFacts, readCallFactsFromNowOn } from '../../src/middleware/call-channel.js';
import { memorize } from '../../src/middleware/memorize.js';
import { MEMORIZE_TAG } from '../../src/middleware/procedure-tags.js';
import {
  type Gate,
  gate,
  through,
  untilJoined as untilCallsJoined,
  type WatchedBackend,
  watchReads,
} from '../helpers/in-flight.js';
import { freezeTime, T0, until } from '../helpers/time.js';

// These tests read the per-call channel directly, as a cacheHeaders() does.
readCallFactsFromNowOn();

export interface SuiteBackend {
  backend: CacheBackend;
  dispose?: () => Promise<void> | void;
}

export type Ctx = { user: string | null };

/** Counts the runs of a resolver; with `held`, each run waits for that gate to open before it computes. */
export function counter<TIn, TOut>(compute: (input: TIn) => TOut, held?: Gate) {
  const calls: TIn[] = [];
  const fn = async (input: TIn): Promise<TOut> => {
    calls.push(input);
    if (held !== undefined) await held.opened;
    return compute(input);
  };
  return Object.defineProperties(fn as typeof fn & { readonly calls: TIn[]; readonly runs: number }, {
    calls: { value: calls },
    runs: { get: () => calls.length },
  });
}

/**
 * A middleware that counts the calls reaching it: placed just before `memorize`,
 * it tells how many calls have reached the cache.
 */
export function arrivals() {
  let count = 0;
  const middleware = initTRPC
    .context<Ctx>()
    .create()
    .middleware(({ next }) => {
      count++;
      return next();
    });
  return Object.defineProperty(middleware as typeof middleware & { readonly count: number }, 'count', {
    get: () => count,
  });
}

/** Serves `router` on 127.0.0.1:0; the `x-user` header becomes `ctx.user`. */
export async function serveRouter(router: AnyTRPCRouter) {
  const server = createHTTPServer({
    router,
    createContext: ({ req }): Ctx => ({ user: (req.headers['x-user'] as string | undefined) ?? null }),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

export function memorizeSuite(name: string, make: () => Promise<SuiteBackend> | SuiteBackend): void {
  describe(`memorize on ${name}`, () => {
    let subject: SuiteBackend;
    let backend: WatchedBackend;
    const caches: Cache[] = [];
    beforeAll(async () => {
      subject = await make();
      backend = watchReads(subject.backend);
    });
    afterEach(() => {
      vi.useRealTimers();
    });
    afterAll(async () => {
      for (const cache of caches) await cache.clear();
      await subject?.dispose?.();
    });
    /** A cache with a prefix of its own: the Redis database is shared with other test files. */
    const freshCache = (options: Omit<CacheOptions, 'prefix'> = {}): Cache => {
      const cache = createCache(backend, { prefix: `memorize-test-${randomUUID().slice(0, 8)}`, ...options });
      caches.push(cache);
      return cache;
    };
    /** Resolves once `calls` calls have reached memorize and wait on `runs` running resolver(s). */
    const untilJoined = (arrived: () => number, calls: number, started: () => number, runs = 1) =>
      untilCallsJoined(backend, arrived, calls, started, runs);

    describe('through createCaller', () => {
      it('runs the resolver on a miss and serves the stored result on a hit', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const load = counter((input: { id: string }) => ({ id: input.id, title: `post ${input.id}` }));
        const router = t.router({
          post: t.router({
            byId: t.procedure
              .input(z.object({ id: z.string() }))
              .use(memorize({ expire: 60, cache }))
              .query(({ input }) => load(input)),
          }),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        expect(await caller.post.byId({ id: '1' })).toEqual({ id: '1', title: 'post 1' });
        expect(await caller.post.byId({ id: '1' })).toEqual({ id: '1', title: 'post 1' });
        expect(load.runs).toBe(1);
        expect(await caller.post.byId({ id: '2' })).toEqual({ id: '2', title: 'post 2' });
        expect(load.runs).toBe(2);
        // Stored under prefix + namespace (the procedure path) + the input's key.
        await cache.clear({ namespace: 'post.byId' });
        await caller.post.byId({ id: '1' });
        expect(load.runs).toBe(3);
      });

      // On the frozen clock: the entry is served up to its last millisecond and not at its expiry.
      // (The backend's own expiry, in real time, is the backend suite's subject.)
      it('expires entries after `expire` seconds, to the millisecond', async () => {
        freezeTime();
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const load = counter(() => ({ at: Date.now() }));
        const router = t.router({
          now: t.procedure.use(memorize({ expire: 60, cache })).query(() => load(1)),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        expect(await caller.now()).toEqual({ at: T0 });
        vi.setSystemTime(T0 + 59_999);
        expect(await caller.now()).toEqual({ at: T0 });
        expect(load.runs).toBe(1);
        vi.setSystemTime(T0 + 60_000);
        expect(await caller.now()).toEqual({ at: T0 + 60_000 });
        expect(load.runs).toBe(2);
        // The new entry counts its expire from when it was stored.
        vi.setSystemTime(T0 + 119_999);
        expect(await caller.now()).toEqual({ at: T0 + 60_000 });
        expect(load.runs).toBe(2);
      });

      it("uses the cache's default expire when memorize has none, to the millisecond", async () => {
        freezeTime();
        const cache = freshCache({ expire: 30 });
        const t = initTRPC.context<Ctx>().create();
        const load = counter(() => 'value');
        const router = t.router({ q: t.procedure.use(memorize({ cache })).query(() => load(1)) });
        const caller = t.createCallerFactory(router)({ user: null });
        await caller.q();
        vi.setSystemTime(T0 + 29_999);
        await caller.q();
        expect(load.runs).toBe(1);
        vi.setSystemTime(T0 + 30_000);
        await caller.q();
        expect(load.runs).toBe(2);
      });

      it('works before and after .input()', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const before = counter((input: { id: number }) => input.id * 2);
        const after = counter((input: { id: number }) => input.id * 3);
        const router = t.router({
          before: t.procedure
            .use(memorize({ expire: 60, cache }))
            .input(z.object({ id: z.number() }))
            .query(({ input }) => before(input)),
          after: t.procedure
            .input(z.object({ id: z.number() }))
            .use(memorize({ expire: 60, cache }))
            .query(({ input }) => after(input)),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        for (let i = 0; i < 3; i++) {
          expect(await caller.before({ id: 1 })).toBe(2);
          expect(await caller.before({ id: 2 })).toBe(4);
          expect(await caller.after({ id: 1 })).toBe(3);
          expect(await caller.after({ id: 2 })).toBe(6);
        }
        expect(before.runs).toBe(2);
        expect(after.runs).toBe(2);
        // An invalid input is still refused when memorize stands before .input().
        await expect(caller.before({ id: 'x' as unknown as number })).rejects.toMatchObject({
          code: 'BAD_REQUEST',
        });
      });

      it('shares one entry between inputs that differ only in key order', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const load = counter((input: unknown) => input);
        const router = t.router({
          search: t.procedure
            .input(
              z.object({
                q: z.string(),
                page: z.number(),
                filter: z.object({ a: z.number(), b: z.number() }),
              }),
            )
            .use(memorize({ expire: 60, cache }))
            .query(({ input }) => load(input)),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        await caller.search({ q: 'x', page: 1, filter: { a: 1, b: 2 } });
        await caller.search({ filter: { b: 2, a: 1 }, page: 1, q: 'x' });
        expect(load.runs).toBe(1);
        await caller.search({ q: 'x', page: 2, filter: { a: 1, b: 2 } });
        expect(load.runs).toBe(2);
      });

      it('clears one namespace without touching the others; `namespace` renames it', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const a = counter(() => 'a');
        const b = counter(() => 'b');
        const router = t.router({
          a: t.procedure.use(memorize({ expire: 60, cache })).query(() => a(1)),
          b: t.procedure.use(memorize({ expire: 60, cache, namespace: 'reports' })).query(() => b(1)),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        await caller.a();
        await caller.b();
        await cache.clear({ namespace: 'reports' });
        await caller.a();
        await caller.b();
        expect([a.runs, b.runs]).toEqual([1, 2]);
        await cache.clear({ namespace: 'a' });
        await caller.a();
        await caller.b();
        expect([a.runs, b.runs]).toEqual([2, 2]);
        await cache.clear();
        await caller.a();
        await caller.b();
        expect([a.runs, b.runs]).toEqual([3, 3]);
      });

      it('runs the resolver once for 50 concurrent calls with the same key (single-flight)', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const upstream = gate();
        const arrived = arrivals();
        const load = counter((input: { id: string }) => ({ id: input.id, n: Math.random() }), upstream);
        const router = t.router({
          slow: t.procedure
            .input(z.object({ id: z.string() }))
            .use(arrived)
            .use(memorize({ expire: 60, cache }))
            .query(({ input }) => load(input)),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        const calls = Promise.all(
          Array.from({ length: 50 }, (_, i) => caller.slow({ id: i % 2 === 0 ? 'even' : 'odd' })),
        );
        await untilJoined(
          () => arrived.count,
          50,
          () => load.runs,
        );
        upstream.open();
        const results = await calls;
        expect(load.runs).toBe(2);
        const even = results.filter((result) => result.id === 'even');
        expect(new Set(even.map((result) => result.n)).size).toBe(1);
        expect(await caller.slow({ id: 'even' })).toEqual(even[0]);
        expect(load.runs).toBe(2);
      });

      it('hands each call that waited for the same computation its own copy', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const made: object[] = [];
        const upstream = gate();
        const arrived = arrivals();
        const load = counter(() => {
          const value = { items: [1, 2, 3], meta: { n: 3 } };
          made.push(value);
          return value;
        }, upstream);
        const router = t.router({
          list: t.procedure
            .use(arrived)
            .use(memorize({ expire: 60, cache }))
            .query(() => load(1)),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        const calls = Promise.all([caller.list(), caller.list(), caller.list()]);
        await untilJoined(
          () => arrived.count,
          3,
          () => load.runs,
        );
        upstream.open();
        const results = await calls;
        expect(made).toHaveLength(1);
        expect(new Set(results).size).toBe(3);
        // Only the call that ran the resolver gets its object.
        expect(results.filter((result) => result === made[0])).toHaveLength(1);
        for (const result of results) {
          result.items.push(4);
          result.meta.n = 99;
        }
        results[1]!.items.length = 0;
        expect(results[0]!.items).toEqual([1, 2, 3, 4]);
        expect(results[2]!.items).toEqual([1, 2, 3, 4]);
        expect(await caller.list()).toEqual({ items: [1, 2, 3], meta: { n: 3 } });
      });

      it('lets the calls that waited for a value the cache cannot encode share it', async () => {
        const cache = freshCache({ onError: () => {} });
        class Money {
          constructor(readonly cents: number) {}
        }
        const t = initTRPC.context<Ctx>().create();
        const upstream = gate();
        const arrived = arrivals();
        const load = counter(() => new Money(5), upstream);
        const router = t.router({
          price: t.procedure
            .use(arrived)
            .use(memorize({ expire: 60, cache }))
            .query(() => load(1)),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        const calls = Promise.all([caller.price(), caller.price()]);
        await untilJoined(
          () => arrived.count,
          2,
          () => load.runs,
        );
        upstream.open();
        const [a, b] = await calls;
        expect(load.runs).toBe(1);
        expect(a).toBeInstanceOf(Money);
        expect(b).toBe(a);
      });

      it('an aborted call stops waiting, and the call that waited with it reruns the resolver with its own signal', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const signals: (AbortSignal | undefined)[] = [];
        const upstream = gate();
        const router = t.router({
          post: t.procedure
            .input(z.object({ id: z.string() }))
            .use(memorize({ expire: 60, cache }))
            .query(async ({ input, signal }) => {
              signals.push(signal);
              const run = signals.length;
              // An upstream request that honours the call's signal.
              await through(upstream, undefined, signal);
              return { id: input.id, run };
            }),
        });
        const factory = t.createCallerFactory(router);
        const [first, second] = [new AbortController(), new AbortController()];
        const leaving = factory({ user: null }, { signal: first.signal }).post({ id: 'a' });
        const staying = factory({ user: null }, { signal: second.signal }).post({ id: 'a' });
        await until(() => signals.length === 1);
        const reason = new Error('the client went away');
        first.abort(reason);
        const error = await leaving.catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(TRPCError);
        expect((error as TRPCError).cause).toBe(reason);
        // The call still waiting runs the resolver itself, and gets what its own run returns.
        await until(() => signals.length === 2, { what: 'the second run' });
        upstream.open();
        expect(await staying).toEqual({ id: 'a', run: 2 });
        expect(signals).toEqual([first.signal, second.signal]);
        // What the second call computed is cached.
        expect(await factory({ user: null }).post({ id: 'a' })).toEqual({ id: 'a', run: 2 });
        expect(signals).toHaveLength(2);
      });

      it('a waiting call that aborts leaves at once; the running call carries on and caches', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        let finished = false;
        const upstream = gate();
        const load = counter((id: string) => {
          finished = true;
          return { id };
        }, upstream);
        const router = t.router({
          post: t.procedure
            .input(z.object({ id: z.string() }))
            .use(memorize({ expire: 60, cache }))
            .query(({ input }) => load(input.id)),
        });
        const factory = t.createCallerFactory(router);
        const follower = new AbortController();
        const running = factory({ user: null }).post({ id: 'b' });
        const waiting = factory({ user: null }, { signal: follower.signal }).post({ id: 'b' });
        await until(() => load.runs === 1);
        follower.abort();
        const error = await waiting.catch((caught: unknown) => caught);
        expect(finished).toBe(false);
        expect((error as TRPCError).cause).toMatchObject({ name: 'AbortError' });
        upstream.open();
        expect(await running).toEqual({ id: 'b' });
        expect(await factory({ user: null }).post({ id: 'b' })).toEqual({ id: 'b' });
        expect(load.runs).toBe(1);
      });

      it('never serves one scope to another, and does not cache a null scope', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const load = counter((user: string | null) => ({ owner: user }));
        const publicLoad = counter(() => ({ owner: 'everyone' }));
        const router = t.router({
          me: t.procedure
            .use(memorize({ expire: 60, cache, namespace: 'profile', scope: (ctx) => ctx.user }))
            .query(({ ctx }) => load(ctx.user)),
          // Same namespace, public: must not meet the scoped entries either.
          everyone: t.procedure
            .use(memorize({ expire: 60, cache, namespace: 'profile' }))
            .query(() => publicLoad(null)),
        });
        const factory = t.createCallerFactory(router);
        const alice = factory({ user: 'alice' });
        const bob = factory({ user: 'bob' });
        const anonymous = factory({ user: null });
        expect(await alice.me()).toEqual({ owner: 'alice' });
        expect(await bob.me()).toEqual({ owner: 'bob' });
        expect(await alice.me()).toEqual({ owner: 'alice' });
        expect(await bob.me()).toEqual({ owner: 'bob' });
        expect(load.runs).toBe(2);
        expect(await anonymous.everyone()).toEqual({ owner: 'everyone' });
        expect(await alice.everyone()).toEqual({ owner: 'everyone' });
        expect(publicLoad.runs).toBe(1);
        expect(await anonymous.me()).toEqual({ owner: null });
        expect(await anonymous.me()).toEqual({ owner: null });
        expect(load.runs).toBe(4);
      });

      it('keeps scopes that look alike apart', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const load = counter((user: string | null) => user);
        const router = t.router({
          me: t.procedure
            .use(memorize({ expire: 60, cache, scope: (ctx) => ctx.user, key: () => 'same' }))
            .query(({ ctx }) => load(ctx.user)),
        });
        const factory = t.createCallerFactory(router);
        const users = ['a', 'a:', 'a:same', '', '~', '1.a', 'x'.repeat(100), 'x'.repeat(101)];
        for (const user of users) expect(await factory({ user }).me()).toBe(user);
        for (const user of users) expect(await factory({ user }).me()).toBe(user);
        expect(load.runs).toBe(users.length);
      });

      it('never caches errors: the next call runs the resolver again', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        let fail = true;
        const upstream = gate();
        const arrived = arrivals();
        const load = counter(() => {
          if (fail) throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'upstream down' });
          return 'fine';
        }, upstream);
        const router = t.router({
          flaky: t.procedure
            .use(arrived)
            .use(memorize({ expire: 60, cache }))
            .query(() => load(1)),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        // Concurrent calls share the one failure…
        const calls = Promise.allSettled(Array.from({ length: 10 }, () => caller.flaky()));
        await untilJoined(
          () => arrived.count,
          10,
          () => load.runs,
        );
        upstream.open();
        const outcomes = await calls;
        expect(outcomes.every((outcome) => outcome.status === 'rejected')).toBe(true);
        expect(load.runs).toBe(1);
        // …but it is not kept.
        await expect(caller.flaky()).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
        expect(load.runs).toBe(2);
        fail = false;
        expect(await caller.flaky()).toBe('fine');
        expect(await caller.flaky()).toBe('fine');
        expect(load.runs).toBe(3);
      });

      it('refuses mutations and subscriptions at call time and caches nothing', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const create = counter(() => 'created');
        const router = t.router({
          create: t.procedure.use(memorize({ expire: 60, cache })).mutation(() => create(1)),
          events: t.procedure.use(memorize({ expire: 60, cache })).subscription(async function* () {
            yield 1;
          }),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        for (let i = 0; i < 2; i++) {
          const error = await caller.create().catch((e: unknown) => e);
          expect(error).toBeInstanceOf(TRPCError);
          expect((error as Error).message).toMatch(/only memorizes queries.*"create" is a mutation/);
        }
        await expect(caller.events()).rejects.toThrow(/"events" is a subscription/);
        expect(create.runs).toBe(0);
        expect(await coreOf(cache).read('create:=undefined')).toBeUndefined();
      });

      it('hands every caller its own copy of the value', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const router = t.router({
          list: t.procedure
            .use(memorize({ expire: 60, cache }))
            .query(() => ({ items: [1, 2, 3], meta: { n: 3 } })),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        const first = await caller.list();
        first.items.push(4);
        first.meta.n = 99;
        const second = await caller.list();
        expect(second).toEqual({ items: [1, 2, 3], meta: { n: 3 } });
        second.items.length = 0;
        expect(await caller.list()).toEqual({ items: [1, 2, 3], meta: { n: 3 } });
      });

      it('round-trips Date, Map, Set, BigInt and undefined fields', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const value = () => ({
          at: new Date('2024-05-06T07:08:09.010Z'),
          counts: new Map([['a', 1]]),
          tags: new Set(['x']),
          big: 12_345_678_901_234_567_890n,
          missing: undefined,
        });
        const load = counter(value);
        const router = t.router({
          typed: t.procedure.use(memorize({ expire: 60, cache })).query(() => load(1)),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        await caller.typed();
        const hit = await caller.typed();
        expect(load.runs).toBe(1);
        expect(hit).toEqual(value());
        expect(hit.at).toBeInstanceOf(Date);
        expect(hit.counts).toBeInstanceOf(Map);
        expect('missing' in hit).toBe(true);
      });

      it('caches null and undefined results like any other', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const none = counter(() => undefined);
        const nothing = counter(() => null);
        const router = t.router({
          none: t.procedure.use(memorize({ expire: 60, cache })).query(() => none(1)),
          nothing: t.procedure.use(memorize({ expire: 60, cache })).query(() => nothing(1)),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        for (let i = 0; i < 3; i++) {
          expect(await caller.none()).toBeUndefined();
          expect(await caller.nothing()).toBeNull();
        }
        expect([none.runs, nothing.runs]).toEqual([1, 1]);
      });

      it('returns a value the cache cannot store, without caching it', async () => {
        const errors: string[] = [];
        const cache = freshCache({ onError: (event) => errors.push(event.operation) });
        class Money {
          constructor(readonly cents: number) {}
        }
        const t = initTRPC.context<Ctx>().create();
        const load = counter(() => new Money(5));
        const router = t.router({
          price: t.procedure.use(memorize({ expire: 60, cache })).query(() => load(1)),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        expect(await caller.price()).toBeInstanceOf(Money);
        expect(await caller.price()).toBeInstanceOf(Money);
        expect(load.runs).toBe(2);
        expect(errors).toContain('encode');
      });

      it('runs an input without a stable identity uncached', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const load = counter(() => 'ran');
        const router = t.router({ q: t.procedure.use(memorize({ expire: 60, cache })).query(() => load(1)) });
        const caller = t.createCallerFactory(router)({ user: null });
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        await caller.q(cyclic as never);
        await caller.q(cyclic as never);
        expect(load.runs).toBe(2);
      });

      it('uses a custom key, which clear({ namespace, key }) removes exactly', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const load = counter((input: { id: string; noise: number }) => input.id);
        const router = t.router({
          post: t.procedure
            .input(z.object({ id: z.string(), noise: z.number() }))
            .use(
              memorize({
                expire: 60,
                cache,
                key: ({ input, path }) => `${path}/${(input as { id: string }).id}`,
              }),
            )
            .query(({ input }) => load(input)),
        });
        const caller = t.createCallerFactory(router)({ user: null });
        await caller.post({ id: 'a', noise: 1 });
        await caller.post({ id: 'a', noise: 2 });
        await caller.post({ id: 'b', noise: 3 });
        expect(load.runs).toBe(2);
        await cache.clear({ namespace: 'post', key: 'post/a' });
        await caller.post({ id: 'a', noise: 4 });
        await caller.post({ id: 'b', noise: 5 });
        expect(load.runs).toBe(3);
      });

      it('records a call report per call and tags the middleware', async () => {
        freezeTime();
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const scope = (ctx: Ctx) => ctx.user;
        const mw = memorize<Ctx>({ expire: 30, cache, scope });
        const router = t.router({ me: t.procedure.use(mw).query(({ ctx }) => ctx.user) });
        // The scope function too: input targets call it for the invalidating context.
        expect((mw as unknown as Record<symbol, unknown>)[MEMORIZE_TAG]).toEqual({
          expire: 30,
          namespace: undefined,
          visibility: 'private',
          cache,
          scope,
        });
        const procedure = router._def.procedures.me as unknown as { _def: { middlewares: object[] } };
        expect(procedure._def.middlewares.some((m) => MEMORIZE_TAG in m)).toBe(true);

        // Through the raw procedure, to hold the call's getRawInput like responseMeta does.
        const call = async () => {
          const getRawInput = async () => undefined;
          await (router._def.procedures.me as unknown as (opts: object) => Promise<unknown>)({
            ctx: { user: 'alice' },
            getRawInput,
            path: 'me',
            type: 'query',
            signal: undefined,
            batchIndex: 0,
          });
          return readCallFacts(getRawInput)?.memorized;
        };
        const miss = await call();
        expect(miss).toEqual({
          source: 'miss',
          stored: true,
          expiresAt: T0 + 30_000,
          visibility: 'private',
          expire: 30,
          staleWhileRevalidate: undefined,
          staleIfError: undefined,
          // Untagged: a scoped entry carries no guard of its own, like a public one.
          tags: undefined,
        });
        vi.setSystemTime(T0 + 29_999);
        const hit = await call();
        expect(hit).toEqual({ ...miss, source: 'hit' });
      });

      it('reports the call that ran the resolver as a miss and the calls that waited for it as hits', async () => {
        const cache = freshCache({ onError: () => {} });
        const t = initTRPC.context<Ctx>().create();
        class Money {
          constructor(readonly cents: number) {}
        }
        const upstream = gate();
        const [postArrivals, priceArrivals] = [arrivals(), arrivals()];
        const post = counter(() => ({ title: 'hello' }), upstream);
        const price = counter(() => new Money(5), upstream);
        const router = t.router({
          post: t.procedure
            .use(postArrivals)
            .use(memorize({ expire: 30, cache }))
            .query(() => post(1)),
          price: t.procedure
            .use(priceArrivals)
            .use(memorize({ expire: 30, cache }))
            .query(() => price(1)),
        });
        const call = async (path: 'post' | 'price') => {
          const getRawInput = async () => undefined;
          await (router._def.procedures[path] as unknown as (opts: object) => Promise<unknown>)({
            ctx: { user: null },
            getRawInput,
            path,
            type: 'query',
            signal: undefined,
            batchIndex: 0,
          });
          return readCallFacts(getRawInput)?.memorized;
        };
        const posts = Promise.all([call('post'), call('post'), call('post')]);
        const prices = Promise.all([call('price'), call('price')]);
        await untilJoined(
          () => postArrivals.count,
          3,
          () => post.runs,
        );
        await untilJoined(
          () => priceArrivals.count,
          2,
          () => price.runs,
        );
        upstream.open();
        const reports = await posts;
        expect(reports.map((report) => report?.source)).toEqual(['miss', 'hit', 'hit']);
        expect(reports.every((report) => report?.stored === true)).toBe(true);
        expect(new Set(reports.map((report) => report?.expiresAt)).size).toBe(1);
        // A result the cache could not take: a miss for every call, and not stored.
        const unstored = await prices;
        expect(unstored.map((report) => [report?.source, report?.stored])).toEqual([
          ['miss', false],
          ['miss', false],
        ]);
      });
    });

    describe('over HTTP', () => {
      const t = initTRPC.context<Ctx>().create({ transformer: superjson });
      let server: Awaited<ReturnType<typeof serveRouter>>;
      let cache: Cache;
      const post = counter((input: { id: string }) => ({ id: input.id, at: new Date(0), n: Math.random() }));
      const postArrivals = arrivals();
      /** What post.byId's resolver waits on before it answers: open, except while a test holds it. */
      let postHeld = gate();
      postHeld.open();
      const me = counter((user: string | null) => ({ user }));
      const upstreamSignals: (AbortSignal | undefined)[] = [];
      const upstreamHeld = gate();
      let fail = true;
      const flaky = counter(() => {
        if (fail) throw new TRPCError({ code: 'BAD_GATEWAY', message: 'upstream down' });
        return 'ok';
      });
      const build = () =>
        t.router({
          post: t.router({
            byId: t.procedure
              .input(z.object({ id: z.string() }))
              .use(postArrivals)
              .use(memorize({ expire: 60, cache }))
              .query(async ({ input }) => {
                const result = post(input);
                await postHeld.opened;
                return result;
              }),
          }),
          me: t.procedure
            .use(memorize({ expire: 60, cache, scope: (ctx) => ctx.user }))
            .query(({ ctx }) => me(ctx.user)),
          flaky: t.procedure.use(memorize({ expire: 60, cache })).query(() => flaky(1)),
          upstream: t.procedure
            .input(z.object({ id: z.string() }))
            .use(memorize({ expire: 60, cache }))
            .query(async ({ input, signal }) => {
              upstreamSignals.push(signal);
              const run = upstreamSignals.length;
              await through(upstreamHeld, undefined, signal);
              return { id: input.id, run };
            }),
          bump: t.procedure.use(memorize({ expire: 60, cache })).mutation(() => 'bumped'),
        });
      let router: ReturnType<typeof build>;
      const client = (user?: string, batch = true) =>
        createTRPCClient<typeof router>({
          links: [
            (batch ? httpBatchLink : httpLink)({
              url: server.url,
              transformer: superjson,
              headers: user === undefined ? {} : { 'x-user': user },
            }),
          ],
        });
      beforeAll(async () => {
        cache = freshCache();
        router = build();
        server = await serveRouter(router);
      });
      afterAll(async () => {
        await server?.close();
      });

      it('serves hits without running the resolver, types intact', async () => {
        const api = client();
        const first = await api.post.byId.query({ id: 'h1' });
        const second = await api.post.byId.query({ id: 'h1' });
        expect(second).toEqual(first);
        expect(second.at).toBeInstanceOf(Date);
        expect(post.calls.filter((input) => input.id === 'h1')).toHaveLength(1);
      });

      it('runs the resolver once for 50 concurrent calls, batched or not', async () => {
        /** Sends 50 calls at once and answers them only when all 50 are waiting on one run. */
        const fifty = async (query: () => Promise<{ n: number }>) => {
          const [arrived, runs] = [postArrivals.count, post.runs];
          postHeld = gate();
          const calls = Promise.all(Array.from({ length: 50 }, query));
          await untilJoined(
            () => postArrivals.count - arrived,
            50,
            () => post.runs - runs,
          );
          postHeld.open();
          return calls;
        };
        const before = post.runs;
        const batched = client();
        const results = await fifty(() => batched.post.byId.query({ id: 'sf1' }));
        expect(post.runs - before).toBe(1);
        expect(new Set(results.map((result) => result.n)).size).toBe(1);
        const separate = client(undefined, false);
        const more = await fifty(() => separate.post.byId.query({ id: 'sf2' }));
        expect(post.runs - before).toBe(2);
        expect(new Set(more.map((result) => result.n)).size).toBe(1);
      });

      it('a request the client aborts does not fail the request that shares its computation', async () => {
        const api = client(undefined, false);
        const controller = new AbortController();
        const aborted = api.upstream.query({ id: 'c1' }, { signal: controller.signal });
        const kept = api.upstream.query({ id: 'c1' });
        await until(() => upstreamSignals.length === 1, { what: 'the first run' });
        controller.abort();
        await expect(aborted).rejects.toBeInstanceOf(TRPCClientError);
        // The server saw the first request go and aborted its resolver; the second request runs its own.
        await until(() => upstreamSignals.length === 2, { what: 'the second run' });
        upstreamHeld.open();
        expect(await kept).toEqual({ id: 'c1', run: 2 });
        expect(upstreamSignals[0]?.aborted).toBe(true);
        expect(upstreamSignals[1]?.aborted).toBe(false);
        expect(await api.upstream.query({ id: 'c1' })).toEqual({ id: 'c1', run: 2 });
      });

      it('keeps each user to their own entry', async () => {
        const [alice, bob, anonymous] = [client('alice'), client('bob'), client()];
        for (let i = 0; i < 2; i++) {
          expect(await alice.me.query()).toEqual({ user: 'alice' });
          expect(await bob.me.query()).toEqual({ user: 'bob' });
          expect(await anonymous.me.query()).toEqual({ user: null });
        }
        expect(me.calls).toEqual(['alice', 'bob', null, null]);
      });

      it('sends errors to the client and does not cache them', async () => {
        const api = client();
        const error = await api.flaky.query().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(TRPCClientError);
        expect((error as TRPCClientError<typeof router>).data?.code).toBe('BAD_GATEWAY');
        fail = false;
        expect(await api.flaky.query()).toBe('ok');
        expect(await api.flaky.query()).toBe('ok');
        expect(flaky.runs).toBe(2);
      });

      it('answers a memorized mutation with an error', async () => {
        const error = await client()
          .bump.mutate()
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(TRPCClientError);
        expect((error as Error).message).toMatch(/only memorizes queries/);
      });
    });
  });
}
