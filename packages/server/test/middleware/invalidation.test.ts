/**
 * Precise invalidation — `{ path, input }` and `{ tag }` targets through
 * `invalidate()` and `invalidates()` — on every backend: memory, Redis, and a
 * 3-master Redis Cluster (where the entries of one tag live in many slots).
 * Resolver runs are counted: an entry that should survive is one whose resolver
 * does not run again. Tags computed from the result are read in advance when a
 * process remembers them (or vouched for by the epoch when it does not): those
 * tests change tags under it, with several processes on one store.
 */
import { randomUUID } from 'node:crypto';
import { type AnyTRPCRouter, initTRPC } from '@trpc/server';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { MemoryBackend } from '../../src/backends/memory.js';
import { RedisBackend } from '../../src/backends/redis.js';
import { TieredBackend } from '../../src/backends/tiered.js';
import type { CacheBackend } from '../../src/backends/types.js';
import { type Cache, type CacheErrorEvent, createCache } from '../../src/cache/cache.js';
import { coreOf } from '../../src/cache/cache-internals.js';
import { invalidates } from '../../src/middleware/invalidates.js';
import { invalidate } from '../../src/middleware/invalidation.js';
import { memorize } from '../../src/middleware/memorize.js';
import { memorizeFn } from '../../src/middleware/memorize-fn.js';
import { anyString, sameInput, trickyString, typedValue } from '../helpers/arbitraries.js';
import { clusterBackend, patient, testPort } from '../helpers/redis-server.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Ports reserved for this file.
const CLUSTER_PORTS: [number, number, number] = [testPort(17211), testPort(17212), testPort(17213)];

type Ctx = { user: string | null };

/** Counts the runs of a resolver per label. */
function runs() {
  const counts = new Map<string, number>();
  return {
    ran: (label: string) => counts.set(label, (counts.get(label) ?? 0) + 1),
    of: (label: string) => counts.get(label) ?? 0,
  };
}

/** A promise with its resolve, to hold a resolver in flight until the test lets it go. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

interface Subject {
  backend: CacheBackend;
  dispose: () => Promise<void>;
}

function invalidationSuite(name: string, make: () => Promise<Subject>): void {
  describe(`precise invalidation on ${name}`, () => {
    let subject: Subject;
    const caches: Cache[] = [];
    beforeAll(async () => {
      subject = await make();
    }, 60_000);
    afterAll(async () => {
      for (const cache of caches) await cache.clear();
      await subject?.dispose();
    });
    const freshCache = (events?: CacheErrorEvent[]): Cache => {
      const cache = createCache(subject.backend, {
        prefix: `tags-test-${randomUUID().slice(0, 8)}`,
        ...(events === undefined ? {} : { onError: (event: CacheErrorEvent) => events.push(event) }),
      });
      caches.push(cache);
      return cache;
    };

    /**
     * post.byId (after .input()), post.raw (before .input()), post.list, post.mine
     * (scoped, tagged), post.keyed (scoped, with a `key` function), and mutations whose
     * input targets name post.mine in the caller's own scope or in another one.
     */
    function app(cache: Cache) {
      const t = initTRPC.context<Ctx>().create();
      const count = runs();
      const titles = new Map<string, string>();
      const post = (id: string) => ({ id, title: titles.get(id) ?? 'first', authorId: `a${id.length}` });
      const router = t.router({
        post: t.router({
          byId: t.procedure
            .input(z.object({ id: z.string(), lang: z.string().default('en') }))
            .use(
              memorize({
                expire: 60,
                cache,
                tags: ({ data }) => [
                  `post:${(data as { id: string }).id}`,
                  `author:${(data as { authorId: string }).authorId}`,
                ],
              }),
            )
            .query(({ input }) => {
              count.ran(`byId:${input.id}:${input.lang}`);
              return post(input.id);
            }),
          raw: t.procedure
            .use(memorize({ expire: 60, cache }))
            .input(z.object({ id: z.string() }))
            .query(({ input }) => {
              count.ran(`raw:${input.id}`);
              return post(input.id);
            }),
          list: t.procedure
            .use(memorize({ expire: 60, cache, namespace: 'posts', tags: ['posts'] }))
            .query(() => {
              count.ran('list');
              return [...titles.keys()];
            }),
          mine: t.procedure
            .input(z.object({ id: z.string() }))
            .use(memorize({ expire: 60, cache, scope: (ctx: Ctx) => ctx.user, tags: ['posts'] }))
            .query(({ input, ctx }) => {
              count.ran(`mine:${input.id}:${ctx.user}`);
              return { ...post(input.id), viewer: ctx.user };
            }),
          keyed: t.procedure
            .use(
              memorize({
                expire: 60,
                cache,
                scope: (ctx: Ctx) => ctx.user,
                key: ({ input }) => (input as { id: string }).id,
              }),
            )
            .input(z.object({ id: z.string(), note: z.string().optional() }))
            .query(({ input, ctx }) => {
              count.ran(`keyed:${input.id}:${ctx.user}`);
              return input.id;
            }),
          /** Drops the caller's own post.mine entry: the scope comes from the mutation's ctx. */
          touchMine: t.procedure
            .input(z.object({ id: z.string() }))
            .use(
              invalidates<Ctx, { id: string }>(
                ({ input }) => [{ path: 'post.mine', input: { id: input.id } }],
                {
                  router: (): AnyTRPCRouter => router,
                  cache,
                },
              ),
            )
            .mutation(() => true),
          /** Drops another user's post.mine entry: the target names its scope. */
          shareMine: t.procedure
            .input(z.object({ id: z.string(), with: z.string() }))
            .use(
              invalidates<Ctx, { id: string; with: string }>(
                ({ input }) => [{ path: 'post.mine', input: { id: input.id }, scope: input.with }],
                { router: (): AnyTRPCRouter => router, cache },
              ),
            )
            .mutation(() => true),
          rename: t.procedure
            .input(z.object({ id: z.string(), title: z.string() }))
            .use(
              invalidates<Ctx, { id: string }>(
                ({ input }) => [{ path: 'post.byId', input: { id: input.id } }],
                {
                  router: (): AnyTRPCRouter => router,
                  cache,
                },
              ),
            )
            .mutation(({ input }) => {
              titles.set(input.id, input.title);
              return true;
            }),
        }),
      });
      const caller = (user: string | null = null) => t.createCallerFactory(router)({ user });
      return { router, count, caller, titles };
    }

    it('an input target drops exactly that input: other inputs stay cached (after and before .input())', async () => {
      const cache = freshCache();
      const { router, count, caller } = app(cache);
      const c = caller();
      for (const id of ['1', '2']) {
        await c.post.byId({ id });
        await c.post.raw({ id });
      }
      await invalidate(
        [
          { path: 'post.byId', input: { id: '1' } },
          { path: 'post.raw', input: { id: '1' } },
        ],
        { cache, router: () => router },
      );
      for (const id of ['1', '2']) {
        await c.post.byId({ id });
        await c.post.raw({ id });
      }
      expect([count.of('byId:1:en'), count.of('byId:2:en'), count.of('raw:1'), count.of('raw:2')]).toEqual([
        2, 1, 2, 1,
      ]);
    });

    it('an input target reaches the entry keyed by the input as .input() parses it (a default), in any key order', async () => {
      const cache = freshCache();
      const { router, count, caller } = app(cache);
      const c = caller();
      await c.post.byId({ id: '1', lang: 'en' });
      await c.post.byId({ id: '1', lang: 'fr' });
      // `{ id: '1' }` parses to `{ id: '1', lang: 'en' }`: the same entry.
      await invalidate([{ path: 'post.byId', input: { id: '1' } }], { cache, router: () => router });
      await c.post.byId({ lang: 'en', id: '1' });
      await c.post.byId({ id: '1', lang: 'fr' });
      expect([count.of('byId:1:en'), count.of('byId:1:fr')]).toEqual([2, 1]);
      await invalidate([{ path: 'post.byId', input: { lang: 'fr', id: '1' } }], {
        cache,
        router: () => router,
      });
      await c.post.byId({ id: '1', lang: 'fr' });
      expect(count.of('byId:1:fr')).toBe(2);
    });

    it('a mutation with input targets drops only what it names; a path target still drops the whole procedure', async () => {
      const cache = freshCache();
      const { count, caller } = app(cache);
      const c = caller();
      await c.post.byId({ id: '1' });
      await c.post.byId({ id: '2' });
      await c.post.list();
      await c.post.rename({ id: '1', title: 'renamed' });
      expect(await c.post.byId({ id: '1' })).toMatchObject({ title: 'renamed' });
      await c.post.byId({ id: '2' });
      await c.post.list();
      expect([count.of('byId:1:en'), count.of('byId:2:en'), count.of('list')]).toEqual([2, 1, 1]);
      await invalidate(['post.byId'], { cache });
      await c.post.byId({ id: '2' });
      expect(count.of('byId:2:en')).toBe(2);
    });

    /** Calls post.mine for every user and id, then returns the runs of each `mine:<id>:<user>`. */
    async function mineRuns(
      { caller, count }: ReturnType<typeof app>,
      users: readonly string[],
      ids: readonly string[],
    ): Promise<number[]> {
      for (const user of users) for (const id of ids) await caller(user).post.mine({ id });
      return users.flatMap((user) => ids.map((id) => count.of(`mine:${id}:${user}`)));
    }

    it("on a scoped procedure, a mutation's input target drops that input in the caller's own scope only", async () => {
      const cache = freshCache();
      const subject = app(cache);
      expect(await mineRuns(subject, ['ann', 'bob'], ['1', '2'])).toEqual([1, 1, 1, 1]);
      // ann's mutation: her entry of input 1 goes; bob's, and her other input, stay cached.
      await subject.caller('ann').post.touchMine({ id: '1' });
      expect(await mineRuns(subject, ['ann', 'bob'], ['1', '2'])).toEqual([2, 1, 1, 1]);
      // A target naming its scope drops that scope's entry, whoever mutates.
      await subject.caller('ann').post.shareMine({ id: '2', with: 'bob' });
      expect(await mineRuns(subject, ['ann', 'bob'], ['1', '2'])).toEqual([2, 1, 1, 2]);
    });

    it("invalidate() drops one scope's entry: the target's scope (a webhook), else the scope of its ctx option", async () => {
      const cache = freshCache();
      const subject = app(cache);
      const { router } = subject;
      await mineRuns(subject, ['ann', 'bob'], ['1', '2']);
      await invalidate([{ path: 'post.mine', input: { id: '1' }, scope: 'bob' }], {
        cache,
        router: () => router,
      });
      expect(await mineRuns(subject, ['ann', 'bob'], ['1', '2'])).toEqual([1, 1, 2, 1]);
      await invalidate([{ path: 'post.mine', input: { id: '2' } }], {
        cache,
        router: () => router,
        ctx: { user: 'ann' },
      });
      expect(await mineRuns(subject, ['ann', 'bob'], ['1', '2'])).toEqual([1, 2, 2, 1]);
      // The target's scope wins over the ctx's.
      await invalidate([{ path: 'post.mine', input: { id: '2' }, scope: 'bob' }], {
        cache,
        router: () => router,
        ctx: { user: 'ann' },
      });
      expect(await mineRuns(subject, ['ann', 'bob'], ['1', '2'])).toEqual([1, 2, 2, 2]);
      // Targets that differ by their scope only are two targets.
      await invalidate(
        [
          { path: 'post.mine', input: { id: '1' }, scope: 'ann' },
          { path: 'post.mine', input: { id: '1' }, scope: 'bob' },
        ],
        { cache, router: () => router },
      );
      expect(await mineRuns(subject, ['ann', 'bob'], ['1', '2'])).toEqual([2, 2, 3, 2]);
    });

    it('a scoped input target whose scope cannot be told drops the whole procedure, never too little', async () => {
      const cache = freshCache();
      const subject = app(cache);
      const { router } = subject;
      const users = ['ann', 'bob'];
      await mineRuns(subject, users, ['1', '2']);
      // No ctx: the scope function throws reading `ctx.user`.
      await invalidate([{ path: 'post.mine', input: { id: '1' } }], { cache, router: () => router });
      expect(await mineRuns(subject, users, ['1', '2'])).toEqual([2, 2, 2, 2]);
      // An anonymous caller (the scope function returns null) mutates.
      await subject.caller(null).post.touchMine({ id: '1' });
      expect(await mineRuns(subject, users, ['1', '2'])).toEqual([3, 3, 3, 3]);
      // A scope function that returns no string for this ctx.
      await invalidate([{ path: 'post.mine', input: { id: '1' } }], {
        cache,
        router: () => router,
        ctx: { user: 7 },
      });
      expect(await mineRuns(subject, users, ['1', '2'])).toEqual([4, 4, 4, 4]);
    });

    it('without the router, a path stands for a public procedure: scoped entries stay unless the target names its scope', async () => {
      const cache = freshCache();
      const subject = app(cache);
      await mineRuns(subject, ['ann', 'bob'], ['1']);
      await invalidate([{ path: 'post.mine', input: { id: '1' } }], { cache, ctx: { user: 'ann' } });
      expect(await mineRuns(subject, ['ann', 'bob'], ['1'])).toEqual([1, 1]);
      await invalidate([{ path: 'post.mine', input: { id: '1' }, scope: 'ann' }], { cache });
      expect(await mineRuns(subject, ['ann', 'bob'], ['1'])).toEqual([2, 1]);
      // The same target still drops the public entry of that input.
      const c = subject.caller();
      await c.post.byId({ id: '1', lang: 'en' });
      await invalidate([{ path: 'post.byId', input: { id: '1', lang: 'en' }, scope: 'ann' }], { cache });
      await c.post.byId({ id: '1', lang: 'en' });
      expect(subject.count.of('byId:1:en')).toBe(2);
    });

    it("a scope on a public procedure's target is ignored: it drops the input's one entry", async () => {
      const cache = freshCache();
      const { router, count, caller } = app(cache);
      await caller('ann').post.byId({ id: '1' });
      await invalidate([{ path: 'post.byId', input: { id: '1' }, scope: 'ann' }], {
        cache,
        router: () => router,
      });
      await caller('bob').post.byId({ id: '1' });
      expect(count.of('byId:1:en')).toBe(2);
    });

    it('a scoped procedure with a `key` function: the target reaches the key it returns, in its scope', async () => {
      const cache = freshCache();
      const { router, count, caller } = app(cache);
      for (const user of ['ann', 'bob']) {
        await caller(user).post.keyed({ id: '1', note: 'x' });
        await caller(user).post.keyed({ id: '2' });
      }
      // The key function keeps only the id: any other field names the same entry.
      await invalidate([{ path: 'post.keyed', input: { id: '1', note: 'other' }, scope: 'ann' }], {
        cache,
        router: () => router,
      });
      for (const user of ['ann', 'bob']) {
        await caller(user).post.keyed({ id: '1' });
        await caller(user).post.keyed({ id: '2' });
      }
      expect(['keyed:1:ann', 'keyed:2:ann', 'keyed:1:bob', 'keyed:2:bob'].map(count.of)).toEqual([
        2, 1, 1, 1,
      ]);
    });

    it('a scoped hit reads its entry only, as a public hit does (no other key per hit)', async () => {
      const reads: string[] = [];
      const counting: CacheBackend = {
        name: 'counting',
        get: (key) => {
          reads.push(key);
          return subject.backend.get(key);
        },
        set: (key, value, ttl) => subject.backend.set(key, value, ttl),
        delete: (key) => subject.backend.delete(key),
        deleteByPrefix: (prefix) => subject.backend.deleteByPrefix(prefix),
      };
      const cache = createCache(counting, { prefix: `tags-test-${randomUUID().slice(0, 8)}` });
      caches.push(cache);
      const t = initTRPC.context<Ctx>().create();
      let runs = 0;
      const router = t.router({
        shared: t.procedure
          .input(z.object({ id: z.string() }))
          .use(memorize({ expire: 60, cache }))
          .query(() => ++runs),
        own: t.procedure
          .input(z.object({ id: z.string() }))
          .use(memorize({ expire: 60, cache, scope: (ctx: Ctx) => ctx.user }))
          .query(() => ++runs),
        ownNoInput: t.procedure
          .use(memorize({ expire: 60, cache, scope: (ctx: Ctx) => ctx.user }))
          .query(() => ++runs),
      });
      const c = t.createCallerFactory(router)({ user: 'ann' });
      const hits = [() => c.shared({ id: '1' }), () => c.own({ id: '1' }), () => c.ownNoInput()];
      // The first call of each runs and stores (and learns which input keys the procedure).
      for (const call of hits) await call();
      const before = runs;
      for (const call of hits) {
        reads.length = 0;
        await call();
        expect(reads).toHaveLength(1);
      }
      expect(runs).toBe(before);
      expect(reads[0]).toContain(':~ann:');
    });

    it('hostile scopes (separators, escapes, lone surrogates, long ones hashed) reach exactly their entry (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(anyString, { minLength: 2, maxLength: 4 }),
          fc.nat(),
          fc.boolean(),
          async (scopes, pick, viaCtx) => {
            const cache = freshCache();
            const t = initTRPC.context<{ scope: string }>().create();
            const runs = new Map<string, number>();
            const router = t.router({
              q: t.procedure
                .input(z.object({ id: z.string() }))
                .use(memorize({ expire: 60, cache, scope: (ctx: { scope: string }) => ctx.scope }))
                .query(({ ctx }) => {
                  runs.set(ctx.scope, (runs.get(ctx.scope) ?? 0) + 1);
                  return ctx.scope;
                }),
            });
            const callAll = async () => {
              for (const scope of scopes) {
                expect(await t.createCallerFactory(router)({ scope }).q({ id: '1' })).toBe(scope);
              }
            };
            await callAll();
            const scope = scopes[pick % scopes.length]!;
            await invalidate(
              [viaCtx ? { path: 'q', input: { id: '1' } } : { path: 'q', input: { id: '1' }, scope }],
              { cache, router: () => router, ctx: viaCtx ? { scope } : undefined },
            );
            await callAll();
            expect(scopes.map((other) => runs.get(other))).toEqual(
              scopes.map((other) => (other === scope ? 2 : 1)),
            );
          },
        ),
        { numRuns: 15 },
      );
    });

    it('a tag drops every entry carrying it, across procedures and scopes, and nothing else', async () => {
      const cache = freshCache();
      const { count, caller } = app(cache);
      const c = caller();
      await c.post.byId({ id: '1' });
      await c.post.byId({ id: '22' });
      await c.post.list();
      await caller('ann').post.mine({ id: '1' });
      await invalidate([{ tag: 'posts' }], { cache });
      await c.post.byId({ id: '1' });
      await c.post.byId({ id: '22' });
      await c.post.list();
      await caller('ann').post.mine({ id: '1' });
      expect([
        count.of('byId:1:en'),
        count.of('byId:22:en'),
        count.of('list'),
        count.of('mine:1:ann'),
      ]).toEqual([1, 1, 2, 2]);
      // Computed tags: author a2 wrote post 22 only.
      await invalidate([{ tag: 'author:a2' }], { cache });
      await c.post.byId({ id: '1' });
      await c.post.byId({ id: '22' });
      expect([count.of('byId:1:en'), count.of('byId:22:en')]).toEqual([1, 2]);
    });

    it('a tag reaches memorizeFn entries too, and entries of one tag in many slots', async () => {
      const cache = freshCache();
      let calls = 0;
      const load = memorizeFn({
        cache,
        namespace: 'load',
        expire: 60,
        tags: ({ input }) => ['batch', `item:${input[0]}`],
      })(async (id: number) => {
        calls++;
        return id * 2;
      });
      const ids = Array.from({ length: 40 }, (_, i) => i);
      await Promise.all(ids.map((id) => load(id)));
      await Promise.all(ids.map((id) => load(id)));
      expect(calls).toBe(40);
      await invalidate([{ tag: 'item:3' }], { cache });
      await Promise.all(ids.map((id) => load(id)));
      expect(calls).toBe(41);
      await invalidate([{ tag: 'batch' }], { cache });
      await Promise.all(ids.map((id) => load(id)));
      expect(calls).toBe(81);
    });

    it('an input target names a memorizeFn call by its namespace and arguments', async () => {
      const cache = freshCache();
      let calls = 0;
      const loadUser = memorizeFn({ cache, expire: 60 })(async function loadUser(id: string, full?: boolean) {
        calls++;
        return { id, full };
      });
      await loadUser('a');
      await loadUser('b');
      await loadUser('a', true);
      await invalidate([{ path: 'loadUser', input: ['a'] }], { cache });
      await Promise.all([loadUser('a'), loadUser('b'), loadUser('a', true)]);
      expect(calls).toBe(4);
    });

    it('a tag invalidated while a tagged computation is in flight leaves no stale result cached (fixed and computed tags)', async () => {
      const cache = freshCache();
      const t = initTRPC.context<Ctx>().create();
      let version = 0;
      let hold: ReturnType<typeof gate> | undefined;
      const count = runs();
      const resolver = async (label: string) => {
        const seen = version;
        count.ran(label);
        await hold?.opened;
        return seen;
      };
      const router = t.router({
        fixed: t.procedure.use(memorize({ expire: 60, cache, tags: ['v'] })).query(() => resolver('fixed')),
        computed: t.procedure
          .use(memorize({ expire: 60, cache, tags: () => ['v'] }))
          .query(() => resolver('computed')),
      });
      const c = t.createCallerFactory(router)({ user: null });
      for (const path of ['fixed', 'computed'] as const) {
        hold = gate();
        const inFlight = c[path]();
        await vi.waitFor(() => expect(count.of(path)).toBe(1));
        // The data changes while the resolver holds the old version, and the tag is invalidated.
        version++;
        await invalidate([{ tag: 'v' }], { cache });
        hold.open();
        expect(await inFlight).toBe(version - 1);
        hold = undefined;
        // The late result was not kept: the next call computes the new version, which then stays.
        expect(await c[path]()).toBe(version);
        expect(await c[path]()).toBe(version);
        expect(count.of(path)).toBe(2);
      }
    });

    /**
     * memorizeFn with tags computed from the result (`tagsOf`), as `processes`
     * separate processes run it: each its own cache over the one backend and prefix,
     * each its own memory of the entries it saw (a fresh one per `restart`).
     */
    function computedTags(processes: number, tagsOf: (id: string) => readonly string[]) {
      const first = freshCache();
      const prefix = coreOf(first).head.slice(0, -1);
      const caches = [
        first,
        ...Array.from({ length: processes - 1 }, () => createCache(subject.backend, { prefix })),
      ];
      let runs = 0;
      const make = (cache: Cache) =>
        memorizeFn({ cache, namespace: 'post', tags: ({ data }) => (data as { tags: string[] }).tags })(
          async (id: string) => {
            runs++;
            return { id, run: runs, tags: [...tagsOf(id)] };
          },
        );
      const loads = caches.map(make);
      return {
        cache: first,
        runs: () => runs,
        load: (process: number, id: string) => loads[process]!(id),
        restart: (process: number) => {
          loads[process] = make(caches[process]!);
        },
      };
    }

    it('computed tags that change with the data: an entry is checked against the tags it was stored with, whatever the call expected', async () => {
      const author = new Map([['1', 'a1']]);
      const posts = computedTags(1, (id) => [`post:${id}`, `author:${author.get(id)}`]);
      await posts.load(0, '1');
      await posts.load(0, '1'); // a hit: its tags are now read with the entry
      expect(posts.runs()).toBe(1);
      // The post changes author: the old tags are the hint, the new entry has others.
      author.set('1', 'a2');
      await invalidate([{ tag: 'post:1' }], { cache: posts.cache });
      expect(await posts.load(0, '1')).toMatchObject({ run: 2, tags: ['post:1', 'author:a2'] });
      await invalidate([{ tag: 'author:a1' }], { cache: posts.cache });
      expect(await posts.load(0, '1')).toMatchObject({ run: 2 });
      await invalidate([{ tag: 'author:a2' }], { cache: posts.cache });
      expect(await posts.load(0, '1')).toMatchObject({ run: 3 });
    });

    it('another process stored the entry with other tags: a call expecting the old ones checks the new ones', async () => {
      const tags = new Map([['1', 'x']]);
      const posts = computedTags(2, (id) => [tags.get(id)!]);
      await posts.load(0, '1');
      await posts.load(0, '1'); // process 0 expects the tag x
      tags.set('1', 'y');
      await invalidate([{ tag: 'x' }], { cache: posts.cache });
      expect(await posts.load(1, '1')).toMatchObject({ run: 2, tags: ['y'] });
      // Process 0 still expects x; the entry it finds carries y, which holds: a hit.
      expect(await posts.load(0, '1')).toMatchObject({ run: 2 });
      await invalidate([{ tag: 'y' }], { cache: posts.cache });
      expect(await posts.load(0, '1')).toMatchObject({ run: 3 });
      // Again, with y invalidated before process 0, expecting x, reads the entry.
      tags.set('1', 'z');
      await invalidate([{ tag: 'y' }], { cache: posts.cache });
      expect(await posts.load(1, '1')).toMatchObject({ run: 4, tags: ['z'] });
      await posts.load(0, '1');
      tags.set('1', 'w');
      await invalidate([{ tag: 'z' }], { cache: posts.cache });
      expect(await posts.load(1, '1')).toMatchObject({ run: 5, tags: ['w'] });
      await invalidate([{ tag: 'w' }], { cache: posts.cache });
      expect(await posts.load(0, '1')).toMatchObject({ run: 6 });
    });

    it('a process that forgot what it saw (more keys than it remembers), or never saw it, still checks every tag', async () => {
      const posts = computedTags(2, (id) => [`post:${id}`]);
      const ids = Array.from({ length: 4_200 }, (_, i) => String(i));
      const runOf = new Map<string, number>();
      for (let i = 0; i < ids.length; i += 300) {
        await Promise.all(
          ids
            .slice(i, i + 300)
            .map(async (id) => runOf.set(id, ((await posts.load(0, id)) as { run: number }).run)),
        );
      }
      expect(posts.runs()).toBe(ids.length);
      const hit = (id: string) => ({ run: runOf.get(id) });
      // No tag invalidated since: the epoch vouches for the tags (one round trip on Redis).
      expect(await posts.load(0, '0')).toMatchObject(hit('0'));
      expect(await posts.load(1, '1')).toMatchObject(hit('1'));
      // Another tag invalidated: each process reads the tags of an entry it does not remember.
      await invalidate([{ tag: 'post:none' }], { cache: posts.cache });
      expect(await posts.load(1, '2')).toMatchObject(hit('2'));
      await invalidate([{ tag: 'post:0' }, { tag: 'post:3' }], { cache: posts.cache });
      expect(await posts.load(0, '0')).toMatchObject({ run: ids.length + 1 });
      expect(await posts.load(1, '3')).toMatchObject({ run: ids.length + 2 });
      expect(await posts.load(1, '4')).toMatchObject(hit('4'));
      expect(posts.runs()).toBe(ids.length + 2);
    });

    it('an entry computed while an invalidation of its tag is under way is not vouched for by the epoch once the invalidation is done', async () => {
      // The invalidation waits, between deleting the epoch and deleting the tag, for the test.
      const deleting = gate();
      const proceed = gate();
      const inner = subject.backend;
      const backend: CacheBackend = {
        name: inner.name,
        get: (key) => inner.get(key),
        set: (key, value, ttl) => inner.set(key, value, ttl),
        delete: async (key) => {
          if (key.endsWith(':%T:v')) {
            deleting.open();
            await proceed.opened;
          }
          return inner.delete(key);
        },
        deleteByPrefix: (prefix) => inner.deleteByPrefix(prefix),
      };
      const first = freshCache();
      const prefix = coreOf(first).head.slice(0, -1);
      let runs = 0;
      const load = (cache: Cache) =>
        memorizeFn({ cache, namespace: 'item', tags: () => ['v'] })(async (id: string) => ({
          id,
          run: ++runs,
        }));
      const gated = createCache(backend, { prefix });
      const invalidating = invalidate([{ tag: 'v' }], { cache: gated });
      await deleting.opened;
      // Computed now: stamped with the epoch it finds (the old one is deleted), with the
      // tag's token that is about to be deleted.
      expect(await load(first)('1')).toMatchObject({ run: 1 });
      proceed.open();
      await invalidating;
      // A process that never saw the entry reads the epoch with it: the tag's token is gone.
      expect(await load(createCache(inner, { prefix }))('1')).toMatchObject({ run: 2 });
    });

    it('reads never serve an entry whose tag was invalidated after it was computed, and hit otherwise, with hints right, wrong or missing (property)', async () => {
      const tag = fc.constantFrom('a', 'b', 'c');
      const op = fc.oneof(
        fc.record({
          kind: fc.constant('read' as const),
          process: fc.nat(1),
          id: fc.constantFrom('1', '2', '3'),
        }),
        fc.record({
          kind: fc.constant('invalidate' as const),
          tag: fc.constantFrom('a', 'b', 'c', 'unused'),
        }),
        fc.record({
          kind: fc.constant('retag' as const),
          id: fc.constantFrom('1', '2', '3'),
          tags: fc.uniqueArray(tag, { maxLength: 3 }),
        }),
        fc.record({ kind: fc.constant('restart' as const), process: fc.nat(1) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
          const current = new Map<string, readonly string[]>([
            ['1', ['a']],
            ['2', ['a', 'b']],
            ['3', []],
          ]);
          const posts = computedTags(2, (id) => current.get(id)!);
          // The model: what each key's entry was computed with, and when each tag was last invalidated.
          const entries = new Map<string, { run: number; tags: readonly string[]; at: number }>();
          const invalidated = new Map<string, number>();
          for (const [at, step] of ops.entries()) {
            if (step.kind === 'invalidate') {
              await invalidate([{ tag: step.tag }], { cache: posts.cache });
              invalidated.set(step.tag, at);
            } else if (step.kind === 'retag') {
              current.set(step.id, step.tags);
            } else if (step.kind === 'restart') {
              posts.restart(step.process);
            } else {
              const entry = entries.get(step.id);
              const valid = entry?.tags.every((t) => (invalidated.get(t) ?? -1) < entry.at);
              const before = posts.runs();
              const got = (await posts.load(step.process, step.id)) as { run: number };
              if (entry !== undefined && valid === true) {
                expect(got.run).toBe(entry.run);
                expect(posts.runs()).toBe(before);
              } else {
                expect(posts.runs()).toBe(before + 1);
                entries.set(step.id, { run: got.run, tags: current.get(step.id)!, at });
              }
            }
          }
        }),
        { numRuns: 30 },
      );
    });

    it('tags that differ by one character — separators, escapes, lone surrogates — never invalidate each other (property)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(trickyString(6, 1), { minLength: 2, maxLength: 4 }), async (tags) => {
          const cache = freshCache();
          let calls = 0;
          const load = memorizeFn({
            cache,
            namespace: 'n',
            expire: 60,
            tags: ({ input }) => [tags[input[0] as number]!],
          })(async (i: number) => {
            calls++;
            return i;
          });
          for (let i = 0; i < tags.length; i++) await load(i);
          await invalidate([{ tag: tags[0]! }], { cache });
          for (let i = 0; i < tags.length; i++) await load(i);
          expect(calls).toBe(tags.length + 1);
        }),
        { numRuns: 15 },
      );
    });

    it('an input target drops exactly the entries whose inputs are deep-equal to it (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(typedValue, { minLength: 2, maxLength: 4 }),
          fc.nat(),
          async (inputs, pick) => {
            const cache = freshCache();
            const t = initTRPC.context<Ctx>().create();
            const seen: unknown[] = [];
            const router = t.router({
              q: t.procedure
                .input((value: unknown) => value)
                .use(memorize({ expire: 60, cache }))
                .query(({ input }) => {
                  seen.push(input);
                  return 1;
                }),
            });
            const c = t.createCallerFactory(router)({ user: null });
            for (const input of inputs) await c.q(input as never);
            const target = inputs[pick % inputs.length];
            const before = seen.length;
            await invalidate([{ path: 'q', input: target }], { cache, router: () => router });
            for (const input of inputs) await c.q(input as never);
            const rerun = seen.slice(before);
            // Each distinct input that equals the target runs once more; no other input does.
            const expected = inputs.filter(
              (input, i) =>
                sameInput(input, target) && inputs.findIndex((other) => sameInput(other, input)) === i,
            );
            expect(rerun.length).toBe(expected.length);
            for (const input of rerun) expect(sameInput(input, target)).toBe(true);
          },
        ),
        { numRuns: 25 },
      );
    });
  });
}

invalidationSuite('MemoryBackend', async () => {
  const backend = new MemoryBackend();
  return { backend, dispose: async () => backend.close() };
});

invalidationSuite('RedisBackend', async () => {
  const backend = new RedisBackend(REDIS_URL, patient);
  return { backend, dispose: () => Promise.resolve(backend.close()) };
});

invalidationSuite('RedisBackend on a Redis Cluster', () => clusterBackend(CLUSTER_PORTS));

describe('tags across the L1 tiers of several instances (TieredBackend)', () => {
  it('a tag invalidated through one instance drops the entries the other serves from its L1', async () => {
    const channel = `tags-test-${randomUUID()}`;
    const prefix = `tags-tiered-${randomUUID().slice(0, 8)}`;
    const [a, b] = [0, 1].map(() => new TieredBackend(REDIS_URL, { channel }));
    try {
      await vi.waitFor(() => expect(a!.busUp && b!.busUp).toBe(true), { timeout: 10_000, interval: 20 });
      const caches = [a!, b!].map((backend) => createCache(backend, { prefix, expire: 60 }));
      let calls = 0;
      const loaders = caches.map((cache) =>
        memorizeFn({ cache, namespace: 'post', tags: ({ input }) => [`post:${input[0]}`] })(
          async (id: string) => {
            calls++;
            return { id };
          },
        ),
      );
      await loaders[0]!('1');
      await loaders[1]!('1'); // from Redis, now in b's L1 with the tag's token
      await loaders[1]!('1');
      expect(calls).toBe(1);
      await invalidate([{ tag: 'post:1' }], { cache: caches[0]! });
      // The token's delete reaches b's L1 through the bus like any other key's.
      await vi.waitFor(
        async () => {
          await loaders[1]!('1');
          expect(calls).toBe(2);
        },
        // Well within the L1 life of a lost bus (5 s): only the bus message can have done it.
        { timeout: 2_000, interval: 20 },
      );
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });
});
