// @vitest-environment jsdom
/**
 * Server rendering end to end without a browser: a server QueryClient with
 * `reportServerTtl` prefetches through `createTRPCOptionsProxy({ router, ctx,
 * queryClient })` (in-process calls, no HTTP), the state is dehydrated, serialised and
 * hydrated into a browser QueryClient with `mirrorServerTtl`. Time is a fake clock
 * (`Date` only), so every boundary is exact; the page's request time comes from a
 * navigation timing entry, as a browser would give it.
 */
import { dehydrate, hashKey, hydrate, QueryClient, QueryObserver } from '@tanstack/react-query';
import { initTRPC } from '@trpc/server';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { type CachePolicy as ClientPolicy, getCacheHint, mirrorServerTtl } from '@trpc-memory/client';
import {
  cachePolicy,
  createCache,
  invalidates,
  MemoryBackend,
  memorize,
  reportServerTtl,
} from '@trpc-memory/server';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import * as clientProtocol from '../../packages/client/src/protocol.js';
import * as headerProtocol from '../../packages/server/src/middleware/hint-headers.js';
import * as serverProtocol from '../../packages/server/src/ssr/report-server-ttl.js';
import { T0, until } from '../../packages/server/test/helpers/time.js';
import { overTheWire, pageRequestedAt } from './helpers.js';

interface Ctx {
  user: string | null;
}

function makeApp() {
  const cache = createCache(new MemoryBackend(), { prefix: `ssr-${Math.random()}` });
  const t = initTRPC.context<Ctx>().create();
  const runs: Record<string, number> = {};
  const ran = (label: string) => {
    runs[label] = (runs[label] ?? 0) + 1;
  };
  let release: () => void = () => {};
  let started: () => void = () => {};
  const slowStarted = new Promise<void>((resolve) => (started = resolve));
  let callNested: () => Promise<unknown> = async () => undefined;
  const appRouter = t.router({
    post: t.router({
      byId: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: 60, cache }))
        .query(({ input }) => {
          ran(`byId:${input.id}`);
          return { id: input.id };
        }),
      graceful: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: 60, staleWhileRevalidate: 60, cache }))
        .query(({ input }) => {
          ran(`graceful:${input.id}`);
          return { id: input.id };
        }),
      // Calls another memorized procedure in-process: its report must not become this one's.
      page: t.procedure.use(memorize({ expire: 30, cache })).query(async () => {
        ran('page');
        return { first: await callNested() };
      }),
      slow: t.procedure.use(memorize({ expire: 20, cache })).query(async () => {
        await new Promise<void>((resolve) => {
          release = resolve;
          started();
        });
        ran('slow');
        return 'slow';
      }),
      plain: t.procedure.query(() => 'not memorized'),
      /** Fixed tags. */
      feed: t.procedure.use(memorize({ expire: 60, cache, tags: ['feed', 'home'] })).query(() => ['a']),
      /** Tags computed from the call: the ones its input names. */
      tagged: t.procedure
        .input(z.object({ tags: z.array(z.string().min(1)) }))
        .use(memorize({ expire: 60, cache, tags: ({ input }) => (input as { tags: string[] }).tags }))
        .query(({ input }) => input.tags.length),
      failing: t.procedure.use(memorize({ expire: 60, cache, tags: ['feed'] })).query(() => {
        throw new Error('upstream down');
      }),
      rename: t.procedure
        .input(z.object({ id: z.string() }))
        .use(invalidates(['post.byId']))
        .mutation(() => 'ok'),
    }),
    me: t.procedure
      .use(memorize({ expire: 10, cache, scope: (ctx: Ctx) => ctx.user }))
      .query(({ ctx }) => ({ user: ctx.user })),
  });
  callNested = () => t.createCallerFactory(appRouter)({ user: null }).post.byId({ id: 'nested' });
  return { appRouter, runs, slowStarted, release: () => release() };
}

type App = ReturnType<typeof makeApp>;

function serverRender(app: App, user: string | null = 'ann') {
  const queryClient = reportServerTtl(new QueryClient());
  const trpc = createTRPCOptionsProxy({ router: app.appRouter, ctx: () => ({ user }), queryClient });
  return { queryClient, trpc };
}

function browser(policy?: ClientPolicy) {
  const queryClient = new QueryClient();
  const dispose = mirrorServerTtl(queryClient, policy === undefined ? {} : { policy });
  return { queryClient, dispose };
}

/** When the query under `queryKey` turns stale per the browser QueryClient (epoch ms). */
function staleAt(queryClient: QueryClient, queryKey: readonly unknown[]): number {
  const query = queryClient.getQueryCache().find({ queryKey, exact: true })!;
  const staleTime = queryClient.getDefaultOptions().queries?.staleTime as (q: typeof query) => number;
  return query.state.dataUpdatedAt + staleTime(query);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: T0 });
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('reportServerTtl: in-process calls carry what the server cache knew', () => {
  it('puts hit or miss and the time left from the render start in the query meta', async () => {
    const app = makeApp();
    // A miss 2 s into the render: the entry expires 62 s after the render began.
    const first = serverRender(app);
    vi.setSystemTime(T0 + 2000);
    await first.queryClient.prefetchQuery(first.trpc.post.byId.queryOptions({ id: 'a' }));
    const [miss] = dehydrate(first.queryClient).queries;
    expect(miss?.meta?.['trpc-memory']).toEqual({
      source: 'miss',
      expiresIn: 62_000,
      renderedAt: T0,
      tags: [],
    });

    // Another render 10 s later hits the same entry: 50 s left from its start.
    vi.setSystemTime(T0 + 12_000);
    const second = serverRender(app);
    vi.setSystemTime(T0 + 12_500);
    await second.queryClient.prefetchQuery(second.trpc.post.byId.queryOptions({ id: 'a' }));
    const [hit] = dehydrate(second.queryClient).queries;
    expect(hit?.meta?.['trpc-memory']).toEqual({
      source: 'hit',
      expiresIn: 50_000,
      renderedAt: T0 + 12_000,
      tags: [],
    });
    expect(app.runs['byId:a']).toBe(1);
  });

  it('reports the procedure it ran, not the memorized procedures its resolver called in turn', async () => {
    const app = makeApp();
    const { queryClient, trpc } = serverRender(app);
    vi.setSystemTime(T0 + 1000);
    await queryClient.prefetchQuery(trpc.post.page.queryOptions());
    const [page] = dehydrate(queryClient).queries;
    expect(app.runs['byId:nested']).toBe(1);
    expect(page?.meta?.['trpc-memory']).toEqual({
      source: 'miss',
      expiresIn: 31_000,
      renderedAt: T0,
      tags: [],
    });
  });

  it('says "not cached" for a procedure without memorize and for a call its scope keeps out of the cache', async () => {
    const app = makeApp();
    const anonymous = serverRender(app, null);
    await anonymous.queryClient.prefetchQuery(anonymous.trpc.post.plain.queryOptions());
    await anonymous.queryClient.prefetchQuery(anonymous.trpc.me.queryOptions());
    const metas = dehydrate(anonymous.queryClient).queries.map((query) => query.meta?.['trpc-memory']);
    expect(metas).toEqual([
      { source: null, expiresIn: null, renderedAt: T0, tags: null },
      { source: null, expiresIn: null, renderedAt: T0, tags: null },
    ]);
  });

  it('a query dehydrated while it runs carries a promise of its report (streamed server components)', async () => {
    const app = makeApp();
    const { queryClient, trpc } = serverRender(app);
    void queryClient.prefetchQuery(trpc.post.slow.queryOptions());
    await app.slowStarted;
    const [pending] = dehydrate(queryClient, { shouldDehydrateQuery: () => true }).queries;
    const promise = pending?.meta?.['trpc-memory'];
    expect(promise).toBeInstanceOf(Promise);
    vi.setSystemTime(T0 + 3000);
    app.release();
    await expect(promise).resolves.toEqual({
      source: 'miss',
      expiresIn: 23_000,
      renderedAt: T0,
      tags: [],
    });
  });

  it('keeps a persister the app set and refuses what is not a QueryClient', async () => {
    const app = makeApp();
    const seen: string[] = [];
    const queryClient = new QueryClient({
      defaultOptions: {
        queries: {
          persister: (queryFn, context, query) => {
            seen.push(query.queryHash);
            return Promise.resolve(queryFn(context));
          },
        },
      },
    });
    reportServerTtl(queryClient);
    const trpc = createTRPCOptionsProxy({ router: app.appRouter, ctx: { user: null }, queryClient });
    await queryClient.prefetchQuery(trpc.post.byId.queryOptions({ id: 'p' }));
    expect(seen).toHaveLength(1);
    expect(dehydrate(queryClient).queries[0]?.meta?.['trpc-memory']).toMatchObject({ source: 'miss' });
    expect(() => reportServerTtl({} as QueryClient)).toThrow(
      'reportServerTtl(): option "queryClient" must be a QueryClient of @tanstack/react-query, got {}',
    );
  });

  it('uses the meta key and format the client reads', () => {
    expect(clientProtocol.SERVER_TTL_META).toBe(serverProtocol.SERVER_TTL_META);
    const metas: serverProtocol.ServerTtlMeta[] = [
      { source: 'hit', expiresIn: 'inf', renderedAt: T0, tags: [] },
      { source: 'miss', expiresIn: 1000, renderedAt: T0, tags: ['post:1', 'a b,c', '\ud800'] },
      { source: 'stale', expiresIn: -5, renderedAt: T0, tags: '*' },
      { source: null, expiresIn: null, renderedAt: T0, tags: null },
    ];
    for (const meta of metas) expect(clientProtocol.parseServerTtlMeta(overTheWire(meta))).toEqual(meta);
    // A server that predates the tags: the rest reads as before, the tags are unknown.
    expect(clientProtocol.parseServerTtlMeta({ source: 'hit', expiresIn: 1, renderedAt: T0 })).toEqual({
      source: 'hit',
      expiresIn: 1,
      renderedAt: T0,
      tags: null,
    });
    for (const bad of [
      null,
      1,
      { source: 'maybe', expiresIn: 1, renderedAt: T0 },
      { source: 'hit', expiresIn: 1 },
    ])
      expect(clientProtocol.parseServerTtlMeta(bad)).toBeUndefined();
  });

  it('carries the tags of the entry: fixed, computed from the call, none; unknown when not cached', async () => {
    const app = makeApp();
    const { queryClient, trpc } = serverRender(app, null);
    const prefetch = (options: object) => queryClient.prefetchQuery({ ...options, retry: false } as never);
    await prefetch(trpc.post.feed.queryOptions());
    await prefetch(trpc.post.tagged.queryOptions({ tags: ['post:1', 'author:7', 'post:1'] }));
    await prefetch(trpc.post.byId.queryOptions({ id: 't' }));
    await prefetch(trpc.post.plain.queryOptions());
    await prefetch(trpc.me.queryOptions());
    await prefetch(trpc.post.failing.queryOptions());
    const tags = dehydrate(queryClient, { shouldDehydrateQuery: () => true }).queries.map(
      (query) => (query.meta?.['trpc-memory'] as serverProtocol.ServerTtlMeta | undefined)?.tags,
    );
    expect(tags).toEqual([['feed', 'home'], ['post:1', 'author:7'], [], null, null, null]);

    // A later render that hits the entries reports the tags they were stored with.
    const again = serverRender(app, null);
    await again.queryClient.prefetchQuery(again.trpc.post.feed.queryOptions());
    await again.queryClient.prefetchQuery(
      again.trpc.post.tagged.queryOptions({ tags: ['post:1', 'author:7', 'post:1'] }),
    );
    expect(dehydrate(again.queryClient).queries.map((query) => query.meta?.['trpc-memory'])).toEqual([
      { source: 'hit', expiresIn: 60_000, renderedAt: T0, tags: ['feed', 'home'] },
      { source: 'hit', expiresIn: 60_000, renderedAt: T0, tags: ['post:1', 'author:7'] },
    ]);
  });

  it('lists tags up to the limit of a trpc-memory-tags entry, and says "*" past it, as the header does', async () => {
    const app = makeApp();
    const { queryClient, trpc } = serverRender(app);
    // Each tag's entry is its URI-encoded JSON string: `%22` + 1994 letters + `%22` is 2000 characters.
    const longest = 'a'.repeat(1994);
    const tooLong = 'a'.repeat(1995);
    for (const tags of [[longest], [tooLong], Array.from({ length: 500 }, (_, i) => `t${i}`)])
      await queryClient.prefetchQuery(trpc.post.tagged.queryOptions({ tags }));
    const metas = dehydrate(queryClient).queries.map((query) => query.meta?.['trpc-memory']);
    expect(metas.map((meta) => (meta as serverProtocol.ServerTtlMeta).tags)).toEqual([[longest], '*', '*']);
    expect(metas.map((meta) => clientProtocol.parseServerTtlMeta(overTheWire(meta))?.tags)).toEqual([
      [longest],
      '*',
      '*',
    ]);
    expect(headerProtocol.formatTags([longest])).not.toBe('*');
    expect(headerProtocol.formatTags([tooLong])).toBe('*');
  });

  it('round-trip: the tags the server writes are the tags the browser reads, "*" exactly where the header says it (property)', async () => {
    const app = makeApp();
    const { queryClient, trpc } = serverRender(app);
    // Any text (lone surrogates, separators, quotes): few short tags, and long ones that
    // often take the list past the header's limit.
    const tagLists = fc.oneof(
      fc.array(fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), { maxLength: 8 }),
      fc.array(fc.string({ unit: 'binary', minLength: 20, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
    );
    await fc.assert(
      fc.asyncProperty(tagLists, async (tags) => {
        const options = trpc.post.tagged.queryOptions({ tags });
        await queryClient.prefetchQuery(options);
        const query = dehydrate(queryClient).queries.find((q) => q.queryHash === hashKey(options.queryKey));
        const written = query?.meta?.['trpc-memory'] as serverProtocol.ServerTtlMeta;
        const unique = [...new Set(tags)];
        expect(written.tags).toEqual(headerProtocol.formatTags(unique) === '*' ? '*' : unique);
        expect(clientProtocol.parseServerTtlMeta(overTheWire(written))).toEqual(written);
      }),
      { numRuns: 60 },
    );
  });
});

describe('mirrorServerTtl: hydrated queries are fresh until their server entry expires', () => {
  it('counts the time left from when the browser requested the page, however late it arrived', async () => {
    const app = makeApp();
    // The browser asked at T0 - 40; the server began rendering at T0 and hit an entry
    // with 20 s left 500 ms in.
    await serverRender(app).queryClient.prefetchQuery(
      serverRender(app).trpc.post.byId.queryOptions({ id: 'h' }),
    );
    vi.setSystemTime(T0 + 40_000);
    pageRequestedAt(T0 + 40_000 - 40);
    const render = serverRender(app);
    vi.setSystemTime(T0 + 40_500);
    await render.queryClient.prefetchQuery(render.trpc.post.byId.queryOptions({ id: 'h' }));
    const state = overTheWire(dehydrate(render.queryClient));
    // The page arrives 5 s later (a slow network, a streamed payload): it changes nothing.
    vi.setSystemTime(T0 + 45_500);
    const { queryClient } = browser();
    hydrate(queryClient, state);
    const queryKey = render.trpc.post.byId.queryKey({ id: 'h' });
    // The entry expires at T0 + 60 s: fresh until 40 ms before (the request's trip).
    expect(staleAt(queryClient, queryKey)).toBe(T0 + 60_000 - 40);
    expect(getCacheHint(queryClient, queryKey)).toMatchObject({ source: 'hit', expiresAt: T0 + 60_000 - 40 });
    const query = queryClient.getQueryCache().find({ queryKey })!;
    const staleTime = queryClient.getDefaultOptions().queries?.staleTime as (q: typeof query) => number;
    vi.setSystemTime(T0 + 60_000 - 41);
    expect(query.isStaleByTime(staleTime(query))).toBe(false);
    vi.setSystemTime(T0 + 60_000 - 40);
    expect(query.isStaleByTime(staleTime(query))).toBe(true);
  });

  it('a query streamed in after hydration gets its report when its data lands', async () => {
    const app = makeApp();
    pageRequestedAt(T0 - 10);
    const render = serverRender(app);
    void render.queryClient.prefetchQuery(render.trpc.post.slow.queryOptions());
    await app.slowStarted;
    const state = dehydrate(render.queryClient, { shouldDehydrateQuery: () => true });
    const { queryClient } = browser();
    hydrate(queryClient, state);
    vi.setSystemTime(T0 + 1500);
    app.release();
    const queryKey = render.trpc.post.slow.queryKey();
    // Not vi.waitFor: it would move the fake clock.
    await queryClient.getQueryCache().find({ queryKey })?.promise;
    expect(queryClient.getQueryData(queryKey)).toBe('slow');
    // The entry: stored at T0 + 1.5 s for 20 s. Counted from the request, not the arrival.
    expect(staleAt(queryClient, queryKey)).toBe(T0 - 10 + 21_500);
  });

  it('a query the server rendered from a stale entry (staleWhileRevalidate) is stale at once in the browser', async () => {
    const app = makeApp();
    const first = serverRender(app);
    await first.queryClient.prefetchQuery(first.trpc.post.graceful.queryOptions({ id: 's' }));
    // 10 s past the entry's expiry, within its window: the render gets the stale value at once.
    vi.setSystemTime(T0 + 70_000);
    pageRequestedAt(T0 + 70_000 - 40);
    const render = serverRender(app);
    await render.queryClient.prefetchQuery(render.trpc.post.graceful.queryOptions({ id: 's' }));
    const state = overTheWire(dehydrate(render.queryClient));
    expect(state.queries[0]?.meta?.['trpc-memory']).toEqual({
      source: 'stale',
      expiresIn: -10_000,
      renderedAt: T0 + 70_000,
      tags: [],
    });
    const { queryClient } = browser();
    hydrate(queryClient, state);
    const queryKey = render.trpc.post.graceful.queryKey({ id: 's' });
    expect(getCacheHint(queryClient, queryKey)?.source).toBe('stale');
    expect(staleAt(queryClient, queryKey)).toBe(T0 + 70_000);
    // The background refresh ran once.
    await until(() => app.runs['graceful:s'] === 2);
  });

  it('data hydrated without a report is stale at once for a memorized procedure (unless opted into the policy)', async () => {
    const app = makeApp();
    pageRequestedAt(T0);
    const server = new QueryClient(); // no reportServerTtl
    const trpc = createTRPCOptionsProxy({ router: app.appRouter, ctx: { user: null }, queryClient: server });
    await server.prefetchQuery(trpc.post.byId.queryOptions({ id: 'n' }));
    const state = overTheWire(dehydrate(server));
    const policy = cachePolicy(app.appRouter);
    const queryKey = trpc.post.byId.queryKey({ id: 'n' });

    const safe = browser(policy).queryClient;
    hydrate(safe, state);
    expect(staleAt(safe, queryKey)).toBe(T0);

    const optimistic = new QueryClient();
    mirrorServerTtl(optimistic, { policy, unreported: 'policy' });
    hydrate(optimistic, state);
    expect(staleAt(optimistic, queryKey)).toBe(T0 + 60_000);
  });

  it('a page rendered long before it was requested (prerendered, cached) is not trusted', async () => {
    const app = makeApp();
    const render = serverRender(app);
    await render.queryClient.prefetchQuery(render.trpc.post.byId.queryOptions({ id: 'old' }));
    const state = overTheWire(dehydrate(render.queryClient));
    vi.setSystemTime(T0 + 45_000);
    pageRequestedAt(T0 + 45_000);
    const { queryClient } = browser(cachePolicy(app.appRouter));
    hydrate(queryClient, state);
    expect(staleAt(queryClient, render.trpc.post.byId.queryKey({ id: 'old' }))).toBe(T0);
  });

  it('a page the browser took from its HTTP cache is not trusted either', async () => {
    const app = makeApp();
    pageRequestedAt(T0, { transferSize: 0 });
    const render = serverRender(app);
    await render.queryClient.prefetchQuery(render.trpc.post.byId.queryOptions({ id: 'c' }));
    const { queryClient } = browser(cachePolicy(app.appRouter));
    hydrate(queryClient, overTheWire(dehydrate(render.queryClient)));
    expect(staleAt(queryClient, render.trpc.post.byId.queryKey({ id: 'c' }))).toBe(T0);
  });

  it('new data hydrated into a query the browser already has carries no report: stale at once', async () => {
    const app = makeApp();
    pageRequestedAt(T0);
    const first = serverRender(app);
    await first.queryClient.prefetchQuery(first.trpc.post.byId.queryOptions({ id: 'e' }));
    const { queryClient } = browser(cachePolicy(app.appRouter));
    hydrate(queryClient, overTheWire(dehydrate(first.queryClient)));
    const queryKey = first.trpc.post.byId.queryKey({ id: 'e' });
    expect(staleAt(queryClient, queryKey)).toBe(T0 + 60_000);

    // A later render (a client-side navigation) of the same query, after the entry was dropped.
    vi.setSystemTime(T0 + 70_000);
    const second = serverRender(app);
    await second.queryClient.prefetchQuery(second.trpc.post.byId.queryOptions({ id: 'e' }));
    hydrate(queryClient, overTheWire(dehydrate(second.queryClient)));
    expect(queryClient.getQueryState(queryKey)?.dataUpdatedAt).toBe(T0 + 70_000);
    expect(staleAt(queryClient, queryKey)).toBe(T0 + 70_000);
  });

  it('marks a suspense query stale when its entry expires, under the 1 s React Query keeps it fresh', async () => {
    vi.useRealTimers();
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'], now: T0 });
    const app = makeApp();
    await serverRender(app).queryClient.prefetchQuery(serverRender(app).trpc.me.queryOptions());
    // 9.6 s later the entry (10 s) has 400 ms left.
    vi.setSystemTime(T0 + 9600);
    pageRequestedAt(T0 + 9600);
    const render = serverRender(app);
    await render.queryClient.prefetchQuery(render.trpc.me.queryOptions());
    const { queryClient } = browser();
    hydrate(queryClient, overTheWire(dehydrate(render.queryClient)));
    const queryKey = render.trpc.me.queryKey();
    // What useSuspenseQuery does to the staleTime it is given: at least 1 s.
    const mirrored = queryClient.getDefaultOptions().queries?.staleTime as (query: never) => number;
    const observer = new QueryObserver(queryClient, {
      queryKey,
      staleTime: (query) => Math.max(mirrored(query as never), 1000),
    });
    const unsubscribe = observer.subscribe(() => {});
    expect(observer.getCurrentResult().isStale).toBe(false);
    await vi.advanceTimersByTimeAsync(399);
    expect(queryClient.getQueryState(queryKey)?.isInvalidated).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(queryClient.getQueryState(queryKey)?.isInvalidated).toBe(true);
    expect(observer.getCurrentResult().isStale).toBe(true);
    unsubscribe();
  });
});

describe('mirrorServerTtl: mutations invalidate from the policy without cacheHintsLink', () => {
  it('a successful mutation through React Query invalidates what the policy says', async () => {
    const app = makeApp();
    const queryClient = new QueryClient();
    mirrorServerTtl(queryClient, { policy: cachePolicy(app.appRouter) });
    const trpc = createTRPCOptionsProxy({ router: app.appRouter, ctx: { user: 'ann' }, queryClient });
    await queryClient.prefetchQuery(trpc.post.byId.queryOptions({ id: 'm' }));
    await queryClient.prefetchQuery(trpc.me.queryOptions());
    await queryClient
      .getMutationCache()
      .build(queryClient, trpc.post.rename.mutationOptions())
      .execute({ id: 'm' });
    await until(
      () => queryClient.getQueryState(trpc.post.byId.queryKey({ id: 'm' }))?.isInvalidated === true,
      {
        what: 'post.byId invalidated',
      },
    );
    expect(queryClient.getQueryState(trpc.me.queryKey())?.isInvalidated).toBe(false);
  });
});
