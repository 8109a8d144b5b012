import { environmentManager, QueryClient, QueryObserver } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { createCacheHints, createMemoHooks, getCacheHint, mirrorServerTtl } from '@trpc-memory/client';
import { cachePolicy } from '@trpc-memory/server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { until } from '../../packages/server/test/helpers/time.js';
import { type AppRouter, startServer, type TestServer, TTL, uid } from './fixture.js';
import { expectStaleAt, freezeTime, makeClient, mirrored, staleAt, T0 } from './helpers.js';

let server: TestServer;
const queryClients: QueryClient[] = [];
function newQueryClient(staleTime?: number): QueryClient {
  const queryClient = new QueryClient(
    staleTime === undefined ? {} : { defaultOptions: { queries: { staleTime } } },
  );
  queryClients.push(queryClient);
  return queryClient;
}

// React Query schedules no "becomes stale" timer where it thinks it is a server (no `window`):
// these tests play the browser's part.
beforeAll(() => {
  environmentManager.setIsServer(() => false);
});
afterAll(() => {
  environmentManager.setIsServer(() => typeof window === 'undefined');
});
beforeEach(async () => {
  freezeTime();
  server = await startServer();
});
afterEach(async () => {
  for (const queryClient of queryClients.splice(0)) queryClient.clear();
  await server.close();
  vi.useRealTimers();
});

describe('mirrorServerTtl + cacheHintsLink (httpBatchLink with cacheHintsHeaders)', () => {
  it('a cold miss is fresh right after the fetch and goes stale when the server entry expires', async () => {
    const queryClient = newQueryClient();
    const { api } = mirrored(queryClient, server);
    const id = uid();
    const options = api.post.byId.queryOptions({ id });
    await queryClient.fetchQuery(options);
    const expiry = T0 + TTL.byId * 1000;
    expect(server.resolvedAt(`byId:${id}`)).toBe(T0);

    expect(queryClient.getQueryCache().find({ queryKey: options.queryKey })?.isStale()).toBe(false);
    await expectStaleAt(expiry, { queryClient, queryKey: options.queryKey });

    // Once the entry is gone, the next fetch runs the resolver again.
    vi.setSystemTime(expiry);
    await queryClient.fetchQuery(options);
    expect(server.runs(`byId:${id}`)).toBe(2);
  });

  it('a result the server served stale (staleWhileRevalidate) is stale at once: refetched on the next mount', async () => {
    const id = uid();
    const first = newQueryClient();
    await first.fetchQuery(mirrored(first, server).api.post.graceful.queryOptions({ id }));

    // Past the entry's expiry, within its staleWhileRevalidate window: the server answers stale.
    vi.setSystemTime(T0 + TTL.byId * 1000 + 5_000);
    const queryClient = newQueryClient();
    const { api } = mirrored(queryClient, server);
    const options = api.post.graceful.queryOptions({ id });
    await queryClient.fetchQuery(options);
    expect(getCacheHint(queryClient, options.queryKey)?.source).toBe('stale');
    expect(staleAt(queryClient, options.queryKey)).toBe(Date.now());

    // The next mount refetches; by then the background refresh stored a fresh entry.
    await until(() => server.runs(`graceful:${id}`) === 2);
    const observer = new QueryObserver(queryClient, options);
    const unsubscribe = observer.subscribe(() => {});
    try {
      await until(() => server.requests() === 3);
      await until(() => getCacheHint(queryClient, options.queryKey)?.source === 'hit');
      expect(staleAt(queryClient, options.queryKey)).toBe(Date.now() + TTL.byId * 1000);
    } finally {
      unsubscribe();
    }
  });

  it('a hit on an entry cached earlier is fresh only for what the entry has left', async () => {
    const id = uid();
    const first = newQueryClient();
    const early = mirrored(first, server);
    await first.fetchQuery(early.api.post.byId.queryOptions({ id }));
    const expiry = T0 + TTL.byId * 1000;

    const fetchedAt = T0 + 25_000;
    vi.setSystemTime(fetchedAt);
    const second = newQueryClient();
    const late = mirrored(second, server);
    const options = late.api.post.byId.queryOptions({ id });
    await second.fetchQuery(options);
    expect(server.runs(`byId:${id}`)).toBe(1);
    // Not a full expire after its own fetch: what the entry had left.
    expect(expiry).toBeLessThan(fetchedAt + TTL.byId * 1000);
    await expectStaleAt(expiry, { queryClient: second, queryKey: options.queryKey });
  });

  it('gives each query of one batch its own TTL', async () => {
    const queryClient = newQueryClient();
    const { api } = mirrored(queryClient, server);
    const id = uid();
    const short = api.post.short.queryOptions({ id });
    const long = api.post.long.queryOptions({ id });
    const before = server.requests();
    await Promise.all([queryClient.fetchQuery(short), queryClient.fetchQuery(long)]);
    expect(server.requests() - before).toBe(1);

    await expectStaleAt(T0 + TTL.short * 1000, { queryClient, queryKey: short.queryKey });
    await expectStaleAt(T0 + TTL.long * 1000, { queryClient, queryKey: long.queryKey });
  });

  it('keeps the QueryClient staleTime for procedures the server does not memorize, and for non-tRPC queries', async () => {
    const queryClient = newQueryClient(12_345);
    const { api } = mirrored(queryClient, server);
    const plain = api.plain.queryOptions('x');
    await queryClient.fetchQuery(plain);
    const query = queryClient.getQueryCache().find({ queryKey: plain.queryKey, exact: true });
    expect(staleAt(queryClient, plain.queryKey) - (query?.state.dataUpdatedAt ?? 0)).toBe(12_345);

    await queryClient.fetchQuery({ queryKey: ['todos'], queryFn: () => 1 });
    const todos = queryClient.getQueryCache().find({ queryKey: ['todos'] });
    expect(staleAt(queryClient, ['todos']) - (todos?.state.dataUpdatedAt ?? 0)).toBe(12_345);
  });

  it('mirrors a scoped (private) result per user, and a call its scope keeps out of the cache gets the default', async () => {
    const queryClient = newQueryClient();
    const { api } = mirrored(queryClient, server, 'batch', { user: 'ann' });
    const me = api.me.queryOptions();
    await queryClient.fetchQuery(me);
    expect(staleAt(queryClient, me.queryKey)).toBe(T0 + TTL.me * 1000);

    const anonymous = newQueryClient();
    const guest = mirrored(anonymous, server, 'batch');
    const guestMe = guest.api.me.queryOptions();
    await anonymous.fetchQuery(guestMe);
    const query = anonymous.getQueryCache().find({ queryKey: guestMe.queryKey, exact: true });
    expect(staleAt(anonymous, guestMe.queryKey)).toBe(query?.state.dataUpdatedAt);
  });

  it('undoes itself: the previous staleTime comes back', () => {
    const queryClient = newQueryClient(777);
    const { dispose } = mirrored(queryClient, server);
    expect(typeof queryClient.getDefaultOptions().queries?.staleTime).toBe('function');
    dispose();
    expect(queryClient.getDefaultOptions().queries?.staleTime).toBe(777);
  });
});

describe('without cacheHintsHeaders on httpBatchLink', () => {
  it('a batch with different TTLs gives each query the smallest (never fresher than the server) and warns once', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const queryClient = newQueryClient();
      const { api } = mirrored(queryClient, server, 'batch-unordered');
      const id = uid();
      const short = api.post.short.queryOptions({ id });
      const long = api.post.long.queryOptions({ id });
      await Promise.all([queryClient.fetchQuery(short), queryClient.fetchQuery(long)]);
      const shortExpiry = T0 + TTL.short * 1000;
      expect(staleAt(queryClient, long.queryKey)).toBe(shortExpiry);
      expect(staleAt(queryClient, short.queryKey)).toBe(shortExpiry);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/cacheHintsHeaders\(\)/);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('httpLink', () => {
  it('mirrors the TTL of a cold miss and of a hit', async () => {
    const queryClient = newQueryClient();
    const { api } = mirrored(queryClient, server, 'single');
    const id = uid();
    const options = api.post.byId.queryOptions({ id });
    await queryClient.fetchQuery(options);

    // A hit, later: fresh for what is left.
    vi.setSystemTime(T0 + 20_000);
    const other = newQueryClient();
    const again = mirrored(other, server, 'single').api.post.byId.queryOptions({ id });
    await other.fetchQuery(again);
    expect(server.runs(`byId:${id}`)).toBe(1);
    await expectStaleAt(
      T0 + TTL.byId * 1000,
      { queryClient, queryKey: options.queryKey },
      { queryClient: other, queryKey: again.queryKey },
    );
  });
});

describe('httpBatchStreamLink: headers leave before the calls run', () => {
  it('by default a streamed result of a memorized query is stale at once: never fresher than its server entry', async () => {
    const queryClient = newQueryClient();
    const { api } = mirrored(queryClient, server, 'stream', { policy: cachePolicy(server.appRouter) });
    const options = api.post.byId.queryOptions({ id: uid() });
    await queryClient.fetchQuery(options);
    const query = queryClient.getQueryCache().find({ queryKey: options.queryKey, exact: true });
    expect(staleAt(queryClient, options.queryKey)).toBe(query?.state.dataUpdatedAt);
    expect(query?.isStaleByTime(0)).toBe(true);
  });

  it("with unreported: 'policy' it is fresh for the full expire from arrival (the opt-in upper bound)", async () => {
    const id = uid();
    const warm = newQueryClient();
    await warm.fetchQuery(mirrored(warm, server).api.post.byId.queryOptions({ id }));
    vi.setSystemTime(T0 + 20_000);

    const queryClient = newQueryClient();
    const { api } = mirrored(queryClient, server, 'stream', { unreported: 'policy' });
    const options = api.post.byId.queryOptions({ id });
    await queryClient.fetchQuery(options);
    const query = queryClient.getQueryCache().find({ queryKey: options.queryKey, exact: true });
    // The entry has 40 s left; a streamed response only tells the policy's 60 s.
    expect(staleAt(queryClient, options.queryKey) - (query?.state.dataUpdatedAt ?? 0)).toBe(TTL.byId * 1000);
  });

  it('a response without hints: stale at once by default, the policy expire with the opt-in', async () => {
    await server.close();
    server = await startServer({ headers: false });
    const policy = cachePolicy(server.appRouter);
    expect(policy['post.short']).toEqual({ expire: TTL.short });
    for (const [unreported, expected] of [
      ['stale', 0],
      ['policy', TTL.short * 1000],
    ] as const) {
      const queryClient = newQueryClient();
      const { api } = mirrored(queryClient, server, 'stream', { policy, unreported });
      const options = api.post.short.queryOptions({ id: uid() });
      await queryClient.fetchQuery(options);
      const query = queryClient.getQueryCache().find({ queryKey: options.queryKey, exact: true });
      expect(staleAt(queryClient, options.queryKey) - (query?.state.dataUpdatedAt ?? 0)).toBe(expected);
    }
  });
});

describe('invalidation from a mutation', () => {
  for (const kind of ['batch', 'single', 'stream'] as const) {
    it(`reaches the server cache and the client queries (${kind})`, async () => {
      const queryClient = newQueryClient();
      const { api, client } = mirrored(queryClient, server, kind);
      const id = uid();
      const byId = api.post.byId.queryOptions({ id });
      const list = api.post.list.queryOptions();
      await Promise.all([queryClient.fetchQuery(byId), queryClient.fetchQuery(list)]);
      // A mounted component: when its query is invalidated it refetches at once.
      const observer = new QueryObserver(queryClient, byId);
      const refetched = new Promise<{ title: string }>((resolve) => {
        const unsubscribe = observer.subscribe((result) => {
          if (result.data?.title === 'second' && !result.isFetching) {
            unsubscribe();
            resolve(result.data);
          }
        });
      });
      expect(observer.getCurrentResult().data?.title).toBe('first');

      await client.post.update.mutate({ id, title: 'second' });
      expect(
        queryClient.getQueryCache().find({ queryKey: list.queryKey, exact: true })?.state.isInvalidated,
      ).toBe(true);
      // The refetch reached the resolver (the server cache was cleared) and got the new title.
      expect(await refetched).toEqual({ id, title: 'second' });
      expect(server.runs(`byId:${id}`)).toBe(2);
      // post.list memorizes under the namespace 'posts': cleared through invalidates({ router }).
      await queryClient.fetchQuery(list);
      expect(server.runs('list')).toBe(2);
    });
  }

  it('a React Query mutation without cacheHintsLink invalidates from the policy; with the link, its report wins', async () => {
    for (const withLink of [false, true]) {
      const queryClient = newQueryClient();
      // A policy that disagrees with the server, to tell which one acted.
      const policy = { ...cachePolicy(server.appRouter), 'post.update': { invalidates: ['plain'] } };
      const hints = createCacheHints();
      mirrorServerTtl(queryClient, { policy, hints });
      const client = withLink
        ? makeClient(server, 'batch', hints)
        : createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: server.url })] });
      const api = createMemoHooks<AppRouter>({ client });
      const id = uid();
      const byId = api.post.byId.queryOptions({ id });
      const plain = {
        queryKey: [['plain'], { input: id, type: 'query' }],
        queryFn: () => client.plain.query(id),
      };
      await Promise.all([queryClient.fetchQuery(byId), queryClient.fetchQuery(plain)]);
      await queryClient
        .getMutationCache()
        .build(queryClient, {
          mutationKey: api.post.update.mutationKey(),
          mutationFn: (input: { id: string; title: string }) => client.post.update.mutate(input),
        })
        .execute({ id, title: 'second' });
      const invalidated = (queryKey: readonly unknown[]) =>
        queryClient.getQueryCache().find({ queryKey, exact: true })?.state.isInvalidated;
      expect([invalidated(byId.queryKey), invalidated(plain.queryKey)]).toEqual(
        withLink ? [true, false] : [false, true],
      );
    }
  });

  it('a failed mutation invalidates nothing', async () => {
    const queryClient = newQueryClient();
    const { api, client } = mirrored(queryClient, server);
    const byId = api.post.byId.queryOptions({ id: uid() });
    await queryClient.fetchQuery(byId);
    await expect(client.post.fail.mutate({ id: 'x' })).rejects.toThrow('refused');
    expect(queryClient.getQueryCache().find({ queryKey: byId.queryKey })?.state.isInvalidated).toBe(false);
  });
});
