/** Clients, a frozen clock and staleness probes for the client tests. */

import {
  type Query,
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
import { expect, vi } from 'vitest';
import { freezeTime } from '../../packages/server/test/helpers/time.js';
import type { AppRouter, TestServer } from './fixture.js';

export { freezeTime, T0 } from '../../packages/server/test/helpers/time.js';

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

/** The staleTime the QueryClient's default options give `query` (what mirrorServerTtl installs). */
function staleTimeOf(queryClient: QueryClient, query: Query): number | 'static' {
  const staleTime = queryClient.getDefaultOptions().queries?.staleTime;
  return typeof staleTime === 'function' ? staleTime(query) : (staleTime ?? 0);
}

/** When (epoch ms) the query under `queryKey` stops being fresh, per the QueryClient's staleTime. */
export function staleAt(queryClient: QueryClient, queryKey: QueryKey): number {
  const query = queryClient.getQueryCache().find({ queryKey, exact: true });
  if (query === undefined) throw new Error(`no query ${JSON.stringify(queryKey)}`);
  const ms = staleTimeOf(queryClient, query);
  if (ms === 'static') return Number.POSITIVE_INFINITY;
  return query.state.dataUpdatedAt + ms;
}

/** A query and the QueryClient holding it. */
export interface HeldQuery {
  queryClient: QueryClient;
  queryKey: QueryKey;
}

/**
 * Each query's data is fresh up to `at` (epoch ms, on the frozen clock) and stale
 * from then on, exactly, and a mounted observer (what a component sees) flips to
 * stale when React Query's timer fires, 1 ms later. Moves the clock to `at + 1`.
 * The timers are faked only while observing, so nothing else runs on them.
 */
export async function expectStaleAt(at: number, ...queries: HeldQuery[]): Promise<void> {
  for (const { queryClient, queryKey } of queries) expect(staleAt(queryClient, queryKey)).toBe(at);
  vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'], now: Date.now() });
  try {
    const observers = queries.map(({ queryClient, queryKey }) => {
      // Any query's options will do: the observer only watches the cached query.
      const observer = new QueryObserver(queryClient, { queryKey } as QueryObserverOptions);
      const unsubscribe = observer.subscribe(() => {});
      return { observer, unsubscribe };
    });
    const staleByTime = () =>
      queries.map(({ queryClient, queryKey }) => {
        const query = queryClient.getQueryCache().find({ queryKey, exact: true });
        return query?.isStaleByTime(staleTimeOf(queryClient, query));
      });
    const seenStale = () => observers.map(({ observer }) => observer.getCurrentResult().isStale);
    const all = (value: boolean) => queries.map(() => value);

    await vi.advanceTimersByTimeAsync(at - 1 - Date.now());
    expect(staleByTime()).toEqual(all(false));
    expect(seenStale()).toEqual(all(false));
    await vi.advanceTimersByTimeAsync(1);
    expect(staleByTime()).toEqual(all(true));
    await vi.advanceTimersByTimeAsync(1);
    expect(seenStale()).toEqual(all(true));
    for (const { unsubscribe } of observers) unsubscribe();
  } finally {
    freezeTime(Date.now());
  }
}

/** A JSON round trip, like a page carrying the dehydrated state. */
export function overTheWire<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * Pretends the browser sent the page request at `requestStart` (epoch ms): the
 * navigation timing entry the browser's `mirrorServerTtl` counts hydrated TTLs from.
 * Undo with `vi.restoreAllMocks()`.
 */
export function pageRequestedAt(requestStart: number, extra: Record<string, number> = {}): void {
  vi.spyOn(performance, 'getEntriesByType').mockImplementation(((type: string) =>
    type === 'navigation'
      ? [
          {
            requestStart: requestStart - performance.timeOrigin,
            transferSize: 1000,
            decodedBodySize: 900,
            ...extra,
          },
        ]
      : []) as unknown as typeof performance.getEntriesByType);
}
