/**
 * Precise invalidation — `{ path, input }` and `{ tag }` targets through
 * `invalidate()` and `invalidates()` — on every backend: memory, Redis, and a
 * 3-master Redis Cluster (where the entries of one tag live in many slots).
 * Resolver runs are counted: an entry that should survive is one whose resolver
 * does not run again.
 */
import { randomUUID } from 'node:crypto';
import { type AnyTRPCRouter, initTRPC } from '@trpc/server';
import fc from 'fast-check';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { MemoryBackend } from '../../src/backends/memory.js';
import { RedisBackend } from '../../src/backends/redis.js';
import { TieredBackend } from '../../src/backends/tiered.js';
import type { CacheBackend } from '../../src/backends/types.js';
import { type Cache, type CacheErrorEvent, createCache } from '../../src/cache/cache.js';
import { invalidates } from '../../src/middleware/invalidates.js';
import { invalidate } from '../../src/middleware/invalidation.js';
import { memorize } from '../../src/middleware/memorize.js';
import { memorizeFn } from '../../src/middleware/memorize-fn.js';
import { sameInput, trickyString, typedValue } from '../helpers/arbitraries.js';
import { patient, type RedisCluster, startRedisCluster, testPort } from '../helpers/redis-server.js';

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

    /** post.byId (after .input()), post.raw (before .input()), post.list, post.mine (scoped), tagged. */
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

    it('on a scoped procedure, an input target drops that input for every scope, and only that input', async () => {
      const cache = freshCache();
      const { router, count, caller } = app(cache);
      for (const user of ['ann', 'bob']) {
        await caller(user).post.mine({ id: '1' });
        await caller(user).post.mine({ id: '2' });
      }
      await invalidate([{ path: 'post.mine', input: { id: '1' } }], { cache, router: () => router });
      for (const user of ['ann', 'bob']) {
        await caller(user).post.mine({ id: '1' });
        await caller(user).post.mine({ id: '2' });
      }
      expect(['mine:1:ann', 'mine:1:bob', 'mine:2:ann', 'mine:2:bob'].map(count.of)).toEqual([2, 2, 1, 1]);
      // Without the router it cannot know the procedure is scoped, and drops it all the same.
      await invalidate([{ path: 'post.mine', input: { id: '2' } }], { cache });
      await caller('ann').post.mine({ id: '2' });
      expect(count.of('mine:2:ann')).toBe(2);
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

let cluster: RedisCluster | undefined;
invalidationSuite('RedisBackend on a Redis Cluster', async () => {
  cluster = await startRedisCluster(CLUSTER_PORTS);
  const client = new Cluster(cluster.nodes, { redisOptions: { connectTimeout: 2_000 } });
  const backend = new RedisBackend(client, patient);
  await client.ping();
  // Until the backend's own node connections have served a write on every master,
  // commands fail open (as misses), which would count as extra resolver runs.
  await vi.waitFor(
    async () => {
      const keys = Array.from({ length: 30 }, (_, i) => `tags-test-warm-${i}`);
      await Promise.all(keys.map((key) => backend.set(key, 'x', 5)));
    },
    { timeout: 20_000, interval: 50 },
  );
  return {
    backend,
    dispose: async () => {
      await backend.close();
      await client.quit();
      await cluster?.stop();
    },
  };
});

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
