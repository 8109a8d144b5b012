/** getCacheHint: what the server reported (hit or miss, entry expiry) per query, through each link. */
import { QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, httpLink } from '@trpc/client';
import { cacheHintsHeaders, cacheHintsLink, createCacheHints, getCacheHint } from '@trpc-memory/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AppRouter, startServer, type TestServer, TTL, uid } from './fixture.js';
import { freezeTime, type LinkKind, mirrored, T0 } from './helpers.js';

let server: TestServer;
const queryClients: QueryClient[] = [];
function newQueryClient(): QueryClient {
  const queryClient = new QueryClient();
  queryClients.push(queryClient);
  return queryClient;
}
beforeEach(async () => {
  freezeTime();
  server = await startServer();
});
afterEach(async () => {
  for (const queryClient of queryClients.splice(0)) queryClient.clear();
  await server.close();
  vi.useRealTimers();
});

describe('getCacheHint', () => {
  it.each<LinkKind>(['batch', 'single'])(
    'tells a miss from a hit, with when the server entry expires (%s)',
    async (kind) => {
      const id = uid();
      const first = newQueryClient();
      const { api } = mirrored(first, server, kind);
      const options = api.post.byId.queryOptions({ id });
      await first.fetchQuery(options);
      const expiry = T0 + TTL.byId * 1000;
      expect(getCacheHint(first, options.queryKey)).toEqual({
        source: 'miss',
        expiresAt: expiry,
        receivedAt: T0,
      });

      // Another client, while the entry lives: a hit, expiring with the same entry.
      vi.setSystemTime(T0 + 20_000);
      const second = newQueryClient();
      const other = mirrored(second, server, kind);
      await second.fetchQuery(other.api.post.byId.queryOptions({ id }));
      expect(getCacheHint(second, options.queryKey)).toEqual({
        source: 'hit',
        expiresAt: expiry,
        receivedAt: T0 + 20_000,
      });
      expect(server.runs(`byId:${id}`)).toBe(1);
    },
  );

  it('gives each query of a batch its own report, and follows a refetch', async () => {
    const queryClient = newQueryClient();
    const { api } = mirrored(queryClient, server);
    const [cachedId, newId] = [uid(), uid()];
    await queryClient.fetchQuery(api.post.long.queryOptions({ id: cachedId }));
    const before = server.requests();
    const cached = api.post.long.queryOptions({ id: cachedId });
    const fresh = api.post.long.queryOptions({ id: newId });
    const plain = api.plain.queryOptions('x');
    await Promise.all([
      queryClient.fetchQuery({ ...cached, staleTime: 0 }),
      queryClient.fetchQuery(fresh),
      queryClient.fetchQuery(plain),
    ]);
    expect(server.requests() - before).toBe(1);
    expect(getCacheHint(queryClient, cached.queryKey)?.source).toBe('hit');
    expect(getCacheHint(queryClient, fresh.queryKey)?.source).toBe('miss');
    // Not memorized: the server says nothing about it.
    expect(getCacheHint(queryClient, plain.queryKey)).toMatchObject({
      source: undefined,
      expiresAt: undefined,
    });

    await queryClient.refetchQueries({ queryKey: fresh.queryKey });
    expect(getCacheHint(queryClient, fresh.queryKey)?.source).toBe('hit');
  });

  it('says nothing it cannot know: no data, another kind of key, a batch without its order', async () => {
    const queryClient = newQueryClient();
    const { api } = mirrored(queryClient, server);
    expect(getCacheHint(queryClient, api.post.byId.queryKey({ id: uid() }))).toBeUndefined();
    await queryClient.fetchQuery({ queryKey: ['todos'], queryFn: () => 1 });
    expect(getCacheHint(queryClient, ['todos'])).toBeUndefined();

    // A batch sent without cacheHintsHeaders(): which report is whose is unknown when they differ.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const unordered = newQueryClient();
      const { api: plainApi } = mirrored(unordered, server, 'batch-unordered');
      const known = uid();
      await unordered.fetchQuery(plainApi.post.byId.queryOptions({ id: known }));
      expect(getCacheHint(unordered, plainApi.post.byId.queryKey({ id: known }))?.source).toBe('miss');
      const hit = plainApi.post.byId.queryOptions({ id: known });
      const miss = plainApi.post.short.queryOptions({ id: uid() });
      await Promise.all([unordered.fetchQuery({ ...hit, staleTime: 0 }), unordered.fetchQuery(miss)]);
      expect(getCacheHint(unordered, hit.queryKey)?.source).toBeUndefined();
      expect(getCacheHint(unordered, miss.queryKey)?.source).toBeUndefined();
    } finally {
      warn.mockRestore();
    }
  });

  it('has no hit-or-miss for a streamed response, only the static expire', async () => {
    const queryClient = newQueryClient();
    const { api } = mirrored(queryClient, server, 'stream');
    const options = api.post.byId.queryOptions({ id: uid() });
    await queryClient.fetchQuery(options);
    const hint = getCacheHint(queryClient, options.queryKey);
    expect(hint?.source).toBeUndefined();
    expect(hint?.expiresAt).toBe((hint?.receivedAt ?? 0) + TTL.byId * 1000);
  });

  it('reads the registry given to mirrorServerTtl, or the one passed in', async () => {
    const queryClient = newQueryClient();
    const { api, hints, dispose } = mirrored(queryClient, server);
    const options = api.post.byId.queryOptions({ id: uid() });
    await queryClient.fetchQuery(options);
    expect(getCacheHint(queryClient, options.queryKey)?.source).toBe('miss');
    dispose();
    // The shared registry never saw this call.
    expect(getCacheHint(queryClient, options.queryKey)).toBeUndefined();
    expect(getCacheHint(queryClient, options.queryKey, { hints })?.source).toBe('miss');

    // Without mirrorServerTtl: a QueryClient fed by a client with its own registry.
    const own = createCacheHints();
    const bare = newQueryClient();
    const client = createTRPCClient<AppRouter>({
      links: [
        cacheHintsLink({ hints: own }),
        httpBatchLink({ url: server.url, headers: cacheHintsHeaders() }),
      ],
    });
    const id = uid();
    await bare.fetchQuery({
      queryKey: [['post', 'byId'], { input: { id }, type: 'query' }],
      queryFn: () => client.post.byId.query({ id }),
    });
    expect(
      getCacheHint(bare, [['post', 'byId'], { input: { id }, type: 'query' }], { hints: own })?.source,
    ).toBe('miss');
  });

  it('forgets the batch position of a failed call, so a later call sharing its context is not misread', async () => {
    const hints = createCacheHints();
    // One context object for every call, as an app passing a constant `context` would.
    const context = { app: 'web' };
    const batched = createTRPCClient<AppRouter>({
      links: [cacheHintsLink({ hints }), httpBatchLink({ url: server.url, headers: cacheHintsHeaders() })],
    });
    // Call 1 (position 0) succeeds, call 2 (position 1) fails and never reads its position.
    const results = await Promise.allSettled([
      batched.post.update.mutate({ id: uid(), title: 't' }, { context }),
      batched.post.fail.mutate({ id: uid() }, { context }),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected']);

    // Another client numbers its calls from 1 too: its call 2 must not take position 1.
    const single = createTRPCClient<AppRouter>({
      links: [cacheHintsLink({ hints }), httpLink({ url: server.url })],
    });
    const queryClient = newQueryClient();
    const fetchVia = (id: string) =>
      queryClient.fetchQuery({
        queryKey: [['post', 'byId'], { input: { id }, type: 'query' }],
        queryFn: () => single.post.byId.query({ id }, { context }),
      });
    await fetchVia(uid());
    const id = uid();
    await fetchVia(id);
    expect(
      getCacheHint(queryClient, [['post', 'byId'], { input: { id }, type: 'query' }], { hints })?.source,
    ).toBe('miss');
  });

  it('is undefined for data from a server without cacheHeaders()', async () => {
    await server.close();
    server = await startServer({ headers: false });
    const queryClient = newQueryClient();
    const { api } = mirrored(queryClient, server);
    const options = api.post.byId.queryOptions({ id: uid() });
    await queryClient.fetchQuery(options);
    expect(getCacheHint(queryClient, options.queryKey)).toBeUndefined();
  });
});
