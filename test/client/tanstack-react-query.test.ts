/**
 * mirrorServerTtl covers queries made with @trpc/tanstack-react-query, whose keys
 * have the same shape: nothing to add to them, no per-query option.
 */

import { environmentManager, MutationObserver, QueryClient } from '@tanstack/react-query';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { createCacheHints, mirrorServerTtl } from '@trpc-memory/client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startServer, type TestServer, TTL, uid } from './fixture.js';
import { expectStaleAt, freezeTime, makeClient, T0 } from './helpers.js';

let server: TestServer;

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
  await server.close();
  vi.useRealTimers();
});

function setup(keyPrefix?: string) {
  const hints = createCacheHints();
  const queryClient = new QueryClient();
  mirrorServerTtl(queryClient, { hints });
  const client = makeClient(server, 'batch', hints);
  const trpc =
    keyPrefix === undefined
      ? createTRPCOptionsProxy({ client, queryClient })
      : createTRPCOptionsProxy<typeof server.appRouter, { keyPrefix: true }>({
          client,
          queryClient,
          keyPrefix,
        });
  return { queryClient, trpc };
}

describe('queries of @trpc/tanstack-react-query', () => {
  for (const keyPrefix of [undefined, 'app']) {
    it(`get the remaining server TTL as staleness${keyPrefix ? ' (with a key prefix)' : ''}`, async () => {
      const { queryClient, trpc } = setup(keyPrefix);
      const id = uid();
      // An entry cached 20 s before this client asks.
      await server.appRouter.createCaller({ user: null }).post.byId({ id });
      vi.setSystemTime(T0 + 20_000);

      const options = trpc.post.byId.queryOptions({ id });
      await queryClient.fetchQuery(options);
      expect(server.runs(`byId:${id}`)).toBe(1);
      await expectStaleAt(T0 + TTL.byId * 1000, { queryClient, queryKey: options.queryKey });
      queryClient.clear();
    });
  }

  it('are invalidated by a mutation made through mutationOptions', async () => {
    const { queryClient, trpc } = setup();
    const id = uid();
    const options = trpc.post.byId.queryOptions({ id });
    await queryClient.fetchQuery(options);
    await new MutationObserver(queryClient, trpc.post.update.mutationOptions()).mutate({ id, title: 'new' });
    expect(queryClient.getQueryCache().find({ queryKey: options.queryKey })?.state.isInvalidated).toBe(true);
    expect(await queryClient.fetchQuery(options)).toEqual({ id, title: 'new' });
    expect(server.runs(`byId:${id}`)).toBe(2);
    queryClient.clear();
  });
});
