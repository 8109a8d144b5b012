import type { QueryClient, QueryKey, StaleTimeFunction } from '@tanstack/react-query';
import { getCacheHint } from '@trpc-memory/client';
import { useEffect, useState } from 'react';
import type { ServerAnswer } from './components/QueryCard.js';

/** The current time, re-rendering every `intervalMs`: drives the countdowns. */
export function useNow(intervalMs = 200): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(id);
  }, [intervalMs]);
  return now;
}

/**
 * How long React Query still treats the query's data as fresh, in ms: `0` when
 * stale, `undefined` before any data. It resolves `staleTime` the way React Query
 * does, so it shows what `mirrorServerTtl` set for this query.
 */
export function clientFreshFor(queryClient: QueryClient, queryKey: QueryKey): number | undefined {
  const query = queryClient.getQueryCache().find({ queryKey, exact: true });
  if (!query || query.state.dataUpdatedAt === 0) return undefined;
  if (query.state.isInvalidated) return 0;
  // At run time a query's options include its observers' (`staleTime` among them).
  const option = (query.options as { staleTime?: StaleTimeFunction }).staleTime;
  const staleTime = typeof option === 'function' ? option(query) : (option ?? 0);
  if (staleTime === 'static') return Number.POSITIVE_INFINITY;
  // Date.now(), not the last tick of useNow: data may have landed since that tick.
  return Math.max(0, query.state.dataUpdatedAt + staleTime - Date.now());
}

/**
 * Where the server's answer to the query's current data came from, and when its
 * cache entry expires: what `cacheHeaders()` reported for that call, read back
 * with `getCacheHint`. `undefined` before any data.
 */
export function serverAnswer(queryClient: QueryClient, queryKey: QueryKey): ServerAnswer | undefined {
  const hint = getCacheHint(queryClient, queryKey);
  if (hint === undefined) return undefined;
  return {
    source: hint.source === 'hit' ? 'cache' : hint.source === 'miss' ? 'upstream' : undefined,
    expiresAt: hint.expiresAt,
  };
}
