import { type AnyTRPCRouter, initTRPC } from '@trpc/server';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CacheManager,
  cacheHeaders,
  createCache,
  InvalidOptionError,
  invalidates,
  MemoryBackend,
  memorize,
  TrpcMemoryError,
} from '../../src/index.js';
import { RedisBackend } from '../../src/redis.js';
import { closedPort } from '../helpers/redis-server.js';
import { entries, serve } from './serve.js';

interface Ctx {
  user: string | null;
}
const t = initTRPC.context<Ctx>().create();
const id = z.object({ id: z.string() });

/** A router whose queries count their resolver runs. */
function makeRouter(options: { cache?: ReturnType<typeof createCache> } = {}) {
  const runs = { byId: 0, list: 0, own: 0 };
  const own = options.cache ?? createCache(new MemoryBackend(), { prefix: 'own' });
  const seen: unknown[] = [];
  const router = t.router({
    post: t.router({
      byId: t.procedure
        .input(id)
        .use(memorize({ expire: 5 }))
        .query(({ input }) => {
          runs.byId++;
          return input.id;
        }),
      list: t.procedure.use(memorize({ expire: 5, namespace: 'posts' })).query(() => {
        runs.list++;
        return [];
      }),
      own: t.procedure.use(memorize({ expire: 5, cache: own })).query(() => {
        runs.own++;
        return 1;
      }),
      update: t.procedure
        .input(id)
        .use(invalidates(['post.byId', 'post.list', 'post.own'], { router: (): AnyTRPCRouter => router }))
        .mutation(({ input }) => input.id),
      byPathOnly: t.procedure.use(invalidates(['post.byId', 'post.list'])).mutation(() => 1),
      refuse: t.procedure.use(invalidates(['post.byId'])).mutation(() => {
        throw new Error('refused');
      }),
      computed: t.procedure
        .input(id)
        .use(
          invalidates<Ctx, { id: string }>((call) => {
            seen.push(call);
            return call.input.id === 'all' ? ['post.byId', 'post.list'] : ['post.byId'];
          }),
        )
        .mutation(({ input }) => ({ saved: input.id })),
      badReturn: t.procedure.use(invalidates(() => 'post.byId' as unknown as string[])).mutation(() => 1),
      typo: t.procedure
        .use(invalidates(['post.byid'], { router: (): AnyTRPCRouter => router }))
        .mutation(() => {
          runs.byId += 1000;
          return 1;
        }),
    }),
    query: t.procedure.use(invalidates(['post.byId'])).query(() => 1),
  });
  return { router, runs, seen, own };
}

const caller = (router: ReturnType<typeof makeRouter>['router']) => router.createCaller({ user: null });

beforeEach(() => {
  CacheManager.init(new MemoryBackend());
});

describe('invalidates(paths)', () => {
  it("after a successful mutation, drops the procedures' cached results: the next query runs its resolver", async () => {
    const { router, runs } = makeRouter();
    const api = caller(router);
    await api.post.byId({ id: 'a' });
    await api.post.byId({ id: 'b' });
    await api.post.byId({ id: 'a' });
    expect(runs.byId).toBe(2);
    await api.post.byPathOnly();
    await api.post.byId({ id: 'a' });
    await api.post.byId({ id: 'b' });
    expect(runs.byId).toBe(4);
  });

  it('without `router`, clears the namespace named like the path (an overridden namespace stays)', async () => {
    const { router, runs } = makeRouter();
    const api = caller(router);
    await api.post.list();
    await api.post.byPathOnly();
    await api.post.list();
    expect(runs.list).toBe(1);
  });

  it("with `router`, honours memorize's namespace override and explicit cache", async () => {
    const { router, runs } = makeRouter();
    const api = caller(router);
    await api.post.list();
    await api.post.own();
    await api.post.byId({ id: 'a' });
    await api.post.update({ id: 'a' });
    await api.post.list();
    await api.post.own();
    await api.post.byId({ id: 'a' });
    expect(runs).toEqual({ byId: 2, list: 2, own: 2 });
  });

  it('invalidates nothing when the mutation fails', async () => {
    const { router, runs } = makeRouter();
    const api = caller(router);
    await api.post.byId({ id: 'a' });
    await expect(api.post.refuse()).rejects.toThrow('refused');
    await api.post.byId({ id: 'a' });
    expect(runs.byId).toBe(1);
  });

  it('computes the paths from the call when given a function: { path, ctx, input, data }', async () => {
    const { router, runs, seen } = makeRouter();
    const api = router.createCaller({ user: 'ann' });
    await api.post.byId({ id: 'x' });
    await api.post.list();
    await api.post.computed({ id: 'one' });
    await api.post.byId({ id: 'x' });
    await api.post.list();
    expect(runs).toMatchObject({ byId: 2, list: 1 });
    expect(seen).toEqual([
      { path: 'post.computed', ctx: { user: 'ann' }, input: { id: 'one' }, data: { saved: 'one' } },
    ]);
  });

  it('reports the invalidated paths in the response, per call', async () => {
    const { router } = makeRouter();
    const server = await serve(router, cacheHeaders());
    try {
      const computed = await server.mutate('post.computed', { id: 'all' });
      expect(entries(computed, 'trpc-memory-invalidates')).toEqual(['post.byId post.list']);
      const failed = await server.mutate('post.refuse', undefined);
      expect(failed.status).toBe(500);
      expect(failed.headers.get('trpc-memory-invalidates')).toBeNull();
    } finally {
      await server.close();
    }
  });

  it('clears entries stored in Redis too', async () => {
    const prefix = `inv-${Math.random().toString(36).slice(2)}`;
    const redis = new RedisBackend(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      CacheManager.init(redis, { prefix });
      const { router, runs } = makeRouter();
      const api = caller(router);
      await api.post.byId({ id: 'r' });
      await api.post.byId({ id: 'r' });
      await api.post.byPathOnly();
      await api.post.byId({ id: 'r' });
      expect(runs.byId).toBe(2);
      await CacheManager.clear();
    } finally {
      await redis.close();
    }
  });

  // The command deadline is an hour: resolving at all (within the test's timeout) shows the
  // mutation did not wait for it. No bound on how fast the machine answers.
  it('does not fail the mutation, nor wait, when the cache cannot be cleared (Redis down): the failure is reported', async () => {
    const errors: string[] = [];
    const down = new RedisBackend(`redis://127.0.0.1:${await closedPort()}`, { commandTimeout: 3_600 });
    try {
      CacheManager.init(down, { onError: (event) => errors.push(event.operation) });
      const { router } = makeRouter();
      await expect(caller(router).post.byPathOnly()).resolves.toBe(1);
      expect(errors).toContain('clear');
    } finally {
      await down.close();
    }
  });
});

describe('invalidates(): mistakes', () => {
  it('rejects targets that are not a list of targets or a function, and unknown options, at once', () => {
    expect(() => invalidates('post.byId' as unknown as string[])).toThrow(InvalidOptionError);
    expect(() => invalidates(['post.byId', ''])).toThrow(
      /option "targets" must be one of an array of targets: procedure paths such as 'post.list'/,
    );
    expect(() => invalidates([{ path: 'a', inputs: 1 } as never])).toThrow(/option "targets"/);
    expect(() => invalidates([{ tag: '' }])).toThrow(/option "targets"/);
    expect(() => invalidates([{ tag: 'x', path: 'a' } as never])).toThrow(/option "targets"/);
    // A scope is the string a procedure's scope(ctx) returns; the error names the target.
    for (const scope of [7, null, undefined, { id: 'a' }]) {
      expect(() => invalidates([{ path: 'me', input: 1, scope } as never])).toThrow(
        /option "targets" must be one of .*scope: '<scope id>'.*, got \{"path":"me","input":1/,
      );
    }
    expect(() =>
      invalidates([
        { path: 'me', scope: '' },
        { path: 'me', scope: '~:%\uD800' },
      ]),
    ).not.toThrow();
    expect(() => invalidates(['a'], { router: {} as unknown as () => AnyTRPCRouter })).toThrow(
      /option "router" must be a function returning the app router/,
    );
    expect(() => invalidates(['a'], { ttl: 1 } as object)).toThrow(/option "ttl"/);
  });

  it('with `router`, a static path that names no procedure fails before the mutation runs', async () => {
    const { router, runs } = makeRouter();
    await expect(caller(router).post.typo()).rejects.toThrow(/"post.byid" is not a procedure of the router/);
    expect(runs.byId).toBe(0);
  });

  it('a function returning something else than a list of paths is an error naming the mutation', async () => {
    const { router } = makeRouter();
    await expect(caller(router).post.badReturn()).rejects.toThrow(/invalidates\(\) on "post.badReturn"/);
  });

  it('is refused on a query', async () => {
    const { router } = makeRouter();
    const error = await caller(router)
      .query()
      .catch((caught: unknown) => caught);
    expect((error as Error).cause).toBeInstanceOf(TrpcMemoryError);
    expect((error as Error).message).toMatch(/runs after mutations, but "query" is a query/);
  });
});

afterAll(() => {
  CacheManager.reset();
});
