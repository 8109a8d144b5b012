/** Clients and timing probes for the client tests. */

import {
  type QueryClient,
  type QueryKey,
  QueryObserver,
  type QueryObserverOptions,
} from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, httpBatchStreamLink, httpLink } from '@trpc/client';
import {
  type CacheHints,
  type CachePolicy,
  cacheHintsHeaders,
  cacheHintsLink,
  createCacheHints,
  createMemoHooks,
  mirrorServerTtl,
} from '@trpc-memory/client';
import { expect } from 'vitest';
import type { AppRouter, TestServer } from './fixture.js';

export type LinkKind = 'batch' | 'batch-unordered' | 'single' | 'stream';

/** A tRPC client with `cacheHintsLink` in front of the given terminating link. */
export function makeClient(server: TestServer, kind: LinkKind, hints: CacheHints, user?: string) {
  const url = server.url;
  const headers = user === undefined ? {} : { 'x-user': user };
  const terminating =
    kind === 'single'
      ? httpLink({ url, headers })
      : kind === 'stream'
        ? httpBatchStreamLink({ url, headers: cacheHintsHeaders(headers) })
        : kind === 'batch'
          ? httpBatchLink({ url, headers: cacheHintsHeaders(() => headers) })
          : httpBatchLink({ url, headers });
  return createTRPCClient<AppRouter>({ links: [cacheHintsLink({ hints }), terminating] });
}

/** A mirrored QueryClient with its own hint registry, a tRPC client and the typed hooks. */
export function mirrored(
  queryClient: QueryClient,
  server: TestServer,
  kind: LinkKind = 'batch',
  options: { policy?: CachePolicy; user?: string; unreported?: 'stale' | 'policy' } = {},
) {
  const hints = createCacheHints();
  const dispose = mirrorServerTtl(queryClient, {
    hints,
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    ...(options.unreported === undefined ? {} : { unreported: options.unreported }),
  });
  const client = makeClient(server, kind, hints, options.user);
  const api = createMemoHooks<AppRouter>({ client });
  return { hints, client, api, dispose };
}

/** When (epoch ms) the query under `queryKey` stops being fresh, per the QueryClient's staleTime. */
export function staleAt(queryClient: QueryClient, queryKey: QueryKey): number {
  const query = queryClient.getQueryCache().find({ queryKey, exact: true });
  if (query === undefined) throw new Error(`no query ${JSON.stringify(queryKey)}`);
  const staleTime = queryClient.getDefaultOptions().queries?.staleTime;
  const ms = typeof staleTime === 'function' ? staleTime(query) : (staleTime ?? 0);
  if (ms === 'static') return Number.POSITIVE_INFINITY;
  return query.state.dataUpdatedAt + ms;
}

/**
 * Observes a cached, fresh query and resolves with the moment (epoch ms) React
 * Query flips it to stale, as a mounted component would see it.
 */
export function whenStale(queryClient: QueryClient, options: { queryKey: QueryKey }): Promise<number> {
  // Any query's options will do: the observer only watches the cached query.
  const observer = new QueryObserver(queryClient, options as QueryObserverOptions);
  if (observer.getCurrentResult().isStale) throw new Error('the query is already stale');
  return new Promise((resolve) => {
    const unsubscribe = observer.subscribe((result) => {
      if (!result.isStale) return;
      unsubscribe();
      resolve(Date.now());
    });
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long `run` took (ms): the most a request's freshness may start early by. */
export async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = Date.now();
  await run();
  return Date.now() - started;
}

/** How late a timer may fire on a busy machine. */
const TIMER_SLACK = 100;

/**
 * The query's freshness ends no later than the server's entry (`expiry`, taken
 * when the resolver returned; the write follows within a few ms), and no earlier
 * than the request's round trip `requestMs` before it: the client counts from when
 * the request left. An observer then sees it turn stale at that moment.
 */
export async function expectStaleAtExpiry(
  queryClient: QueryClient,
  options: { queryKey: QueryKey },
  expiry: number,
  requestMs: number,
): Promise<number> {
  const until = staleAt(queryClient, options.queryKey);
  expect(until).toBeLessThanOrEqual(expiry + 10);
  expect(until).toBeGreaterThanOrEqual(expiry - requestMs - 10);
  const flipped = await whenStale(queryClient, options);
  expect(flipped).toBeGreaterThanOrEqual(until);
  expect(flipped).toBeLessThan(until + TIMER_SLACK);
  return flipped;
}
