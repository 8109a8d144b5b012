import type { Query, QueryClient, StaleTime } from '@tanstack/react-query';
import { attachHints } from './cache-hint.js';
import { type CacheHints, defaultHints, type Listener } from './hints.js';
import { parseQueryKey } from './query-key.js';

/**
 * The server's static cache policy, as `cachePolicy(appRouter)` from
 * `@trpc-memory/server` returns it (plain JSON: serialise it into the page, or
 * write it to a file at build time).
 *
 * @example
 * ```ts
 * const policy: CachePolicy = { 'post.byId': { expire: 60 }, 'post.rename': { invalidates: ['post.byId'] } };
 * ```
 */
export type CachePolicy = Readonly<
  Record<
    string,
    {
      /** A memorized query's time to live in seconds; absent when its results never expire. */
      readonly expire?: number;
      /** A mutation's statically known invalidated paths. */
      readonly invalidates?: readonly string[];
    }
  >
>;

/**
 * Options of {@link mirrorServerTtl}.
 *
 * @example
 * ```ts
 * mirrorServerTtl(queryClient, { policy: window.__CACHE_POLICY__, hints });
 * ```
 */
export interface MirrorServerTtlOptions {
  /**
   * The static policy, used for a query whose response carried no per-call hint:
   * data fetched during server-side rendering and hydrated, an infinite query, a
   * server without `cacheHeaders()`. It is an upper bound (a result cached 40 s ago
   * under `expire: 60` counts as fresh for 60 s), so per-call hints take
   * precedence. Its `invalidates` lists apply when a mutation's response
   * reported none. Default: none — such queries keep the QueryClient's own
   * `staleTime`.
   */
  policy?: CachePolicy;
  /** The registry `cacheHintsLink` writes to. Default: the shared one. */
  hints?: CacheHints;
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function invalidOption(option: string, value: unknown, allowed: string): TypeError {
  return new TypeError(`mirrorServerTtl(): option "${option}" must be ${allowed}, got ${describe(value)}`);
}

/**
 * The mutation listener of `mirrorServerTtl`. Built out here, not inline, so its
 * closure cannot capture the QueryClient: the registry holds the QueryClient
 * weakly and gets it back as an argument, so a forgotten QueryClient (one per
 * server-side render, say) can be collected.
 */
function invalidateOnMutation(policy: CachePolicy | undefined): Listener<QueryClient> {
  return (client, notice) => {
    const paths = new Set(notice.invalidated ?? policy?.[notice.path]?.invalidates ?? []);
    if (paths.size === 0) return;
    void client.invalidateQueries({
      predicate: (query) => {
        const key = parseQueryKey(query.queryKey);
        return key !== undefined && paths.has(key.path);
      },
    });
  };
}

/**
 * Makes every tRPC query of `queryClient` fresh for exactly as long as the
 * server's cached result is, with no per-query option: a result the server cached
 * 40 s ago under `expire: 60` is fresh for the remaining ~20 s, then refetched on
 * the next mount, focus or reconnect. And when a mutation using the server's
 * `invalidates([...])` succeeds, the matching queries are invalidated (active ones
 * refetch at once).
 *
 * It installs a `staleTime` function in the QueryClient's default query options,
 * so it covers the queries of `createMemoHooks` and of `@trpc/tanstack-react-query`
 * alike (both use the key `[path.split('.'), { input?, type }]`). Queries the server
 * did not memorize, and every non-tRPC query, keep the `staleTime` the QueryClient
 * had before. A `staleTime` given to one query still wins for that query.
 * React Query keeps suspense queries fresh for at least 1 s whatever `staleTime`
 * says.
 *
 * Needs `cacheHintsLink()` in the tRPC client's links and `cacheHeaders()` on the
 * server. Returns a function that undoes it. `getCacheHint(queryClient, queryKey)`
 * then reads from the same `hints` registry.
 *
 * @example
 * ```ts
 * const queryClient = new QueryClient();
 * mirrorServerTtl(queryClient);
 *
 * // with a static fallback for streamed or server-rendered data:
 * mirrorServerTtl(queryClient, { policy: window.__CACHE_POLICY__ });
 * ```
 */
export function mirrorServerTtl(queryClient: QueryClient, options: MirrorServerTtlOptions = {}): () => void {
  if (typeof (queryClient as Partial<QueryClient> | null)?.getDefaultOptions !== 'function') {
    throw new TypeError(
      `mirrorServerTtl(): the first argument must be a QueryClient, got ${describe(queryClient)}`,
    );
  }
  const { policy, hints = defaultHints } = options;
  if (policy !== undefined && (policy === null || typeof policy !== 'object' || Array.isArray(policy))) {
    throw invalidOption(
      'policy',
      policy,
      "an object such as { 'post.byId': { expire: 60 } } (from cachePolicy(appRouter))",
    );
  }
  if (typeof (hints as Partial<CacheHints> | null)?.lookup !== 'function') {
    throw invalidOption('hints', hints, 'a registry made by createCacheHints()');
  }

  const defaults = queryClient.getDefaultOptions();
  const previous = defaults.queries?.staleTime;
  const fallback = (query: Query): StaleTime =>
    typeof previous === 'function' ? previous(query) : (previous ?? 0);

  const staleTime = (query: Query): StaleTime => {
    const key = parseQueryKey(query.queryKey);
    if (key === undefined) return fallback(query);
    if (key.type === 'query') {
      const { dataUpdatedAt } = query.state;
      const hint = hints.lookup(key.path, key.input, dataUpdatedAt);
      if (hint !== undefined) {
        return hint.staleAt === null ? fallback(query) : Math.max(0, hint.staleAt - dataUpdatedAt);
      }
    }
    const entry = policy?.[key.path];
    if (entry === undefined || entry.invalidates !== undefined) return fallback(query);
    return entry.expire === undefined ? Number.POSITIVE_INFINITY : entry.expire * 1000;
  };
  queryClient.setDefaultOptions({ ...defaults, queries: { ...defaults.queries, staleTime } });

  const detach = attachHints(queryClient, hints);
  const stop = hints.onMutation(queryClient, invalidateOnMutation(policy));

  return () => {
    stop();
    detach();
    const current = queryClient.getDefaultOptions();
    if (current.queries?.staleTime !== staleTime) return;
    const { staleTime: _ours, ...queries } = current.queries;
    queryClient.setDefaultOptions({
      ...current,
      queries: previous === undefined ? queries : { ...queries, staleTime: previous },
    });
  };
}
