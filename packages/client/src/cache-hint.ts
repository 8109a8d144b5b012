import type { QueryClient, QueryKey } from '@tanstack/react-query';
import { type CacheHints, defaultHints, registryOf } from './hints.js';
import { hydrationHintOf } from './hydration.js';
import { parseQueryKey } from './query-key.js';

/**
 * What the server said about the data a tRPC query holds; what
 * {@link getCacheHint} returns.
 *
 * @example
 * ```ts
 * const hint: CacheHint | undefined = getCacheHint(queryClient, api.post.byId.queryKey({ id }));
 * if (hint?.source === 'hit') console.log(`from the server cache, ${(hint.expiresAt ?? 0) - Date.now()} ms left`);
 * ```
 */
export interface CacheHint {
  /**
   * `'hit'` when the server answered from its cache (a call that waited for a
   * concurrent call's computation counts as a hit once that result was stored),
   * `'miss'` when its resolver ran for this call, `'stale'` when the server
   * answered with an entry past its `expire` (within `staleWhileRevalidate` while
   * it refreshed it, or within `staleIfError` because the resolver failed): such
   * data is stale on the client at once. `undefined` when the server
   * did not say: a procedure it does not memorize, a streamed response
   * (`httpBatchStreamLink`), a batch sent without `cacheHintsHeaders()` whose
   * calls differ, or a server that predates this report.
   */
  readonly source: 'hit' | 'miss' | 'stale' | undefined;
  /**
   * When the server's cache entry for this result expires, in epoch ms on the
   * client's clock: counted from when the request left (for data hydrated from
   * server rendering: from when the browser requested the page), so never later
   * than the real expiry. `Infinity` when it never expires; `undefined` when the result is
   * not in the server's cache (not memorized, or it could not be stored). For a
   * streamed response it is a full `expire` after the data arrived, an upper bound.
   */
  readonly expiresAt: number | undefined;
  /** When the response carrying this data arrived (epoch ms). */
  readonly receivedAt: number;
}

/**
 * Options of {@link getCacheHint}.
 *
 * @example
 * ```ts
 * getCacheHint(queryClient, queryKey, { hints }); // the registry given to cacheHintsLink({ hints })
 * ```
 */
export interface GetCacheHintOptions {
  /**
   * The registry `cacheHintsLink` writes to. Default: the one given to
   * `mirrorServerTtl` for this QueryClient, else the shared one.
   *
   * @default the one given to `mirrorServerTtl` for this QueryClient, else the shared one
   */
  hints?: CacheHints;
}

/** The registry `mirrorServerTtl` was given for each QueryClient. */
const registries = new WeakMap<QueryClient, CacheHints>();

/** @internal Makes `hints` the default registry of `getCacheHint` for `queryClient`; returns the undo. */
export function attachHints(queryClient: QueryClient, hints: CacheHints): () => void {
  registries.set(queryClient, hints);
  return () => {
    if (registries.get(queryClient) === hints) registries.delete(queryClient);
  };
}

/**
 * What the server reported about the data the query under `queryKey` holds now:
 * whether it was a cache `hit` or a `miss` on the server, and when the server's
 * entry expires. `undefined` when the query has no data, is not a tRPC query, or
 * its data came with no report (fetched through a client without
 * `cacheHintsLink()`, hydrated from a server without `reportServerTtl()`, an
 * infinite query).
 *
 * Reads the hints `cacheHintsLink()` recorded (the server needs `cacheHeaders()`).
 * It is a plain read, not a subscription: call it while rendering a component
 * that observes the query and reads its `dataUpdatedAt` (or `isFetching`), so the
 * component re-renders on every fetch, also one that brings equal data.
 *
 * @example
 * ```tsx
 * function PostSource({ id }: { id: string }) {
 *   const queryClient = useQueryClient();
 *   const post = api.post.byId.useQuery({ id });
 *   const hint = post.dataUpdatedAt ? getCacheHint(queryClient, api.post.byId.queryKey({ id })) : undefined;
 *   return <small>{hint?.source === 'hit' ? 'served from the server cache' : 'freshly computed'}</small>;
 * }
 * ```
 */
export function getCacheHint(
  queryClient: QueryClient,
  queryKey: QueryKey,
  options: GetCacheHintOptions = {},
): CacheHint | undefined {
  const key = parseQueryKey(queryKey);
  if (key === undefined || key.type !== 'query') return undefined;
  const query = queryClient.getQueryCache().find({ queryKey, exact: true });
  const dataUpdatedAt = query?.state.dataUpdatedAt;
  if (query === undefined || dataUpdatedAt === undefined || dataUpdatedAt === 0) return undefined;
  const hydrated = hydrationHintOf(query);
  if (hydrated !== undefined) {
    const { staleAt } = hydrated;
    if (staleAt === 'pending' || staleAt === 'unreported') return undefined;
    return { source: hydrated.source, expiresAt: staleAt ?? undefined, receivedAt: dataUpdatedAt };
  }
  const hints = options.hints ?? registries.get(queryClient) ?? defaultHints;
  const hint = registryOf(hints).lookup(key.path, key.input, dataUpdatedAt);
  if (hint === undefined) return undefined;
  return { source: hint.source, expiresAt: hint.staleAt ?? undefined, receivedAt: hint.receivedAt };
}
