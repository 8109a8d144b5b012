import { QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpLink } from '@trpc/client';
import { cacheHintsLink, createCacheHints, createMemoHooks, mirrorServerTtl } from '@trpc-memory/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';
import type { AppRouter } from '../src/router.js';
import { type Demo, startDemo } from '../src/server.js';

let demo: Demo;
beforeAll(async () => {
  demo = await startDemo(
    readConfig({
      PORT: '0',
      DEMO_UPSTREAM_LATENCY: '0',
      DEMO_UPSTREAM_FAILURE_RATE: '0',
      DEMO_CACHE_PREFIX: `demo-test-${Math.random().toString(36).slice(2)}`,
    }),
  );
});
afterAll(() => demo.close());

describe('the demo mutations that clear the server cache', () => {
  it.each(['clearCache', 'reset'] as const)(
    '%s also invalidates the queries in the browser',
    async (name) => {
      const queryClient = new QueryClient();
      const hints = createCacheHints();
      mirrorServerTtl(queryClient, { hints });
      const client = createTRPCClient<AppRouter>({
        links: [cacheHintsLink({ hints }), httpLink({ url: demo.trpcUrl })],
      });
      const api = createMemoHooks<AppRouter>({ client });
      const list = api.catalog.list.queryOptions(undefined);
      await queryClient.fetchQuery(list);
      expect(queryClient.getQueryState(list.queryKey)?.isInvalidated).toBe(false);

      await client.demo[name].mutate();
      expect(queryClient.getQueryState(list.queryKey)?.isInvalidated).toBe(true);
      queryClient.clear();
    },
  );
});
