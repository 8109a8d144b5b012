/**
 * The page's tRPC + React Query setup. What trpc-memory asks of a client app:
 * `mirrorServerTtl(queryClient)`, `cacheHintsLink()` before the HTTP link (with
 * `cacheHintsHeaders()` on a batch link), and optionally `createMemoHooks` for
 * typed hooks.
 */

import { QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { cacheHintsHeaders, cacheHintsLink, createMemoHooks, mirrorServerTtl } from '@trpc-memory/client';
import type { AppRouter } from '../src/router.js';

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // The server already retries upstream (ResilientClient); retrying here too
      // would only delay showing its error.
      retry: false,
    },
  },
});

// Every tRPC query in this client is fresh exactly as long as the server's
// cached entry lives: no per-query staleTime.
mirrorServerTtl(queryClient);

export const client = createTRPCClient<AppRouter>({
  links: [
    cacheHintsLink(),
    httpBatchLink({
      url: '/trpc',
      // Tells each query of a batch which per-call hint is its own.
      headers: cacheHintsHeaders(),
      // The server sends `Cache-Control: public, max-age=N` for cached queries. The demo
      // wants every request to reach the server so its counters show what happened, so
      // it asks the browser to revalidate; a real app would let the browser cache help.
      fetch: (url, init) => fetch(url, { ...(init as RequestInit), cache: 'no-cache' }),
    }),
  ],
});

export const api = createMemoHooks<AppRouter>({ client });
