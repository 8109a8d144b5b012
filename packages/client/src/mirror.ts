import type { Query, QueryClient, StaleTime } from '@tanstack/react-query';
import { attachHints } from './cache-hint.js';
import { now } from './clock.js';
import { type CacheHints, defaultHints, isCacheHints, type Listener, registryOf } from './hints.js';
import { hydrationHintOf, watchHydration } from './hydration.js';
import type { ClientTarget } from './protocol.js';
import { isPath, parseQueryKey, partialMatchKey } from './query-key.js';

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
      /**
       * A mutation's statically known targets: procedure paths, `{ path, input }`,
       * `{ tag }`.
       */
      readonly invalidates?: readonly PolicyTarget[];
      /** A memorized query's fixed tags, or `'computed'` when they depend on the call. */
      readonly tags?: readonly string[] | 'computed';
    }
  >
>;

/**
 * An invalidation target as the server's `cachePolicy` lists it. An input target
 * may carry the `scope` a server-side target names (the server's `cachePolicy`
 * leaves it out): a browser holds one user's queries, so it matches by path and
 * input alone.
 *
 * @example
 * ```ts
 * const target: PolicyTarget = { path: 'post.byId', input: { id: 'home' } };
 * ```
 */
export type PolicyTarget =
  | string
  | { readonly path: string; readonly input?: unknown; readonly scope?: string }
  | { readonly tag: string };

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
   * The static policy (`cachePolicy(appRouter)` on the server). It tells which
   * procedures the server memorizes, so that their data stays fresh no longer than
   * the server can vouch for (see `unreported`), and which procedures each mutation
   * invalidates, so that a successful mutation refetches them even when the client has
   * no `cacheHintsLink()` (a mutation's own report, through the link, takes precedence).
   * Default: none — queries without a report keep the QueryClient's own `staleTime`,
   * and only reported mutations invalidate.
   *
   * @default none — queries without a report keep the QueryClient's own `staleTime`, and only reported mutations invalidate
   */
  policy?: CachePolicy;
  /**
   * How fresh a memorized query's data is when nothing reported how long its server
   * entry has left: data fetched through `httpBatchStreamLink` (its headers leave
   * before the procedures run), fetched without `cacheHintsLink()`, hydrated from a
   * server without `reportServerTtl()`, an infinite query. Applies to the procedures
   * `policy` lists as memorized.
   *
   * - `'stale'` (default): stale at once, so the next mount, focus or reconnect
   *   refetches (from the server's cache, cheaply). Never fresher than the server.
   * - `'policy'`: fresh for the procedure's full `expire` from arrival. Fewer
   *   refetches, but a result the server cached 40 s ago under `expire: 60` stays
   *   fresh 40 s past its server entry: an upper bound, not a promise.
   *
   * @default 'stale'
   */
  unreported?: 'stale' | 'policy';
  /**
   * The registry `cacheHintsLink` writes to. Default: the shared one.
   *
   * @default the shared one
   */
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

/** React Query's floor for a suspense query's staleTime (`ensureSuspenseTimers`). */
const MIN_SUSPENSE_STALE_MS = 1000;

/** When `cacheHintsLink` last reported a successful mutation of each path, per QueryClient. */
const linkReports = new WeakMap<QueryClient, Map<string, number>>();

/** The policy's targets in the form the server reports them (an input target's scope aside: see {@link PolicyTarget}). */
function policyTargets(targets: readonly PolicyTarget[] | undefined): ClientTarget[] {
  const out: ClientTarget[] = [];
  for (const target of targets ?? []) {
    if (typeof target === 'string') out.push({ kind: 'path', path: target });
    else if ('tag' in target && typeof target.tag === 'string') out.push({ kind: 'tag', tag: target.tag });
    else if ('path' in target && typeof target.path === 'string')
      out.push({ kind: 'input', path: target.path, input: target.input });
  }
  return out;
}

/**
 * Whether the query's data carries one of `tags`: as the server reported for this
 * very result (with the hydrated data from server rendering, else through the link),
 * else as the policy says the procedure tags its results. With neither, it may: a
 * refetch too many is the price of not knowing.
 */
function carriesTag(
  query: Query,
  path: string,
  input: unknown,
  tags: ReadonlySet<string>,
  hints: CacheHints,
  policy: CachePolicy | undefined,
): boolean {
  // The hydration report only while the query still holds the data it came with (as
  // for freshness): once refetched, the link's hint of the new data decides.
  const hydrated = hydrationHintOf(query);
  const reported =
    hydrated !== undefined
      ? hydrated.tags
      : registryOf(hints).lookup(path, input, query.state.dataUpdatedAt)?.tags;
  if (reported !== undefined) return reported === '*' || reported.some((tag) => tags.has(tag));
  if (policy === undefined) return true;
  const fixed = policy[path]?.tags;
  if (fixed === undefined) return false;
  return fixed === 'computed' || fixed.some((tag) => tags.has(tag));
}

/**
 * Invalidates exactly the tRPC queries `targets` name: every query of a path; the
 * queries of a path whose input matches an input target (React Query's partial key
 * matching, as `invalidateQueries({ queryKey })` does); the queries whose data
 * carries a tag target.
 */
function invalidateTargets(
  client: QueryClient,
  targets: readonly ClientTarget[],
  hints: CacheHints,
  policy: CachePolicy | undefined,
): void {
  if (targets.length === 0) return;
  const paths = new Set<string>();
  const inputs = new Map<string, unknown[]>();
  const tags = new Set<string>();
  for (const target of targets) {
    if (target.kind === 'path') paths.add(target.path);
    else if (target.kind === 'tag') tags.add(target.tag);
    else inputs.set(target.path, [...(inputs.get(target.path) ?? []), target.input]);
  }
  void client.invalidateQueries({
    predicate: (query) => {
      const key = parseQueryKey(query.queryKey);
      if (key === undefined) return false;
      if (paths.has(key.path)) return true;
      const named = inputs.get(key.path);
      if (named?.some((input) => partialMatchKey([key.input], [input]))) return true;
      return tags.size > 0 && carriesTag(query, key.path, key.input, tags, hints, policy);
    },
  });
}

/**
 * The mutation listener of `mirrorServerTtl`. Built out here, not inline, so its
 * closure cannot capture the QueryClient: the registry holds the QueryClient
 * weakly and gets it back as an argument, so a forgotten QueryClient (one per
 * server-side render, say) can be collected.
 */
function invalidateOnMutation(policy: CachePolicy | undefined, hints: CacheHints): Listener<QueryClient> {
  return (client, notice) => {
    const reports = linkReports.get(client) ?? new Map<string, number>();
    linkReports.set(client, reports);
    reports.set(notice.path, now());
    invalidateTargets(
      client,
      notice.invalidated ?? policyTargets(policy?.[notice.path]?.invalidates),
      hints,
      policy,
    );
  };
}

/**
 * The path of a tRPC mutation key (`[path.split('.')]`, with or without
 * `@trpc/tanstack-react-query`'s `keyPrefix`), or `undefined` for any other key.
 */
function mutationPath(mutationKey: readonly unknown[] | undefined): string | undefined {
  if (mutationKey === undefined) return undefined;
  const path = mutationKey.length === 2 && isPath(mutationKey[0]) ? mutationKey[1] : mutationKey[0];
  return mutationKey.length <= 2 && isPath(path) ? path.join('.') : undefined;
}

/**
 * After a React Query mutation of a tRPC procedure succeeds, invalidates what the
 * policy says it invalidates, unless `cacheHintsLink` already reported this
 * mutation's own result (the per-call report wins: it knows computed paths too).
 */
function invalidateAfterMutations(
  queryClient: QueryClient,
  policy: CachePolicy | undefined,
  hints: CacheHints,
): () => void {
  if (policy === undefined) return () => {};
  return queryClient.getMutationCache().subscribe((event) => {
    if (event.type !== 'updated' || event.action.type !== 'success') return;
    const path = mutationPath(event.mutation.options.mutationKey);
    const targets = path === undefined ? undefined : policy[path]?.invalidates;
    if (path === undefined || targets === undefined) return;
    const reportedAt = linkReports.get(queryClient)?.get(path);
    if (reportedAt !== undefined && reportedAt >= event.mutation.state.submittedAt) return;
    invalidateTargets(queryClient, policyTargets(targets), hints, policy);
  });
}

/**
 * Makes every tRPC query of `queryClient` fresh for exactly as long as the
 * server's cached result is, with no per-query option: a result the server cached
 * 40 s ago under `expire: 60` is fresh for the remaining ~20 s, then refetched on
 * the next mount, focus or reconnect. And when a mutation using the server's
 * `invalidates([...])` succeeds, exactly the queries its targets name are
 * invalidated (active ones refetch at once): every query of a path target, the
 * queries of an input target's path whose input matches it (React Query's partial
 * key matching), and the queries whose results the server reported with a tag
 * target's tag (through `cacheHintsLink`, or with data hydrated from a server render
 * with `reportServerTtl()`; without a report, the policy's fixed `tags` of the
 * procedure decide, and `'computed'` tags count as a match).
 *
 * What the server reported about each result decides:
 * - fetched through `cacheHintsLink()` with `httpLink` / `httpBatchLink` (and
 *   `cacheHeaders()` on the server): fresh until its own server entry expires,
 *   counted from when the request left;
 * - hydrated from server rendering whose QueryClient had `reportServerTtl()`: fresh
 *   until its server entry expires, counted from when the browser requested the
 *   page, so a page (or a streamed part of it) that arrives late never extends it;
 * - anything else of a procedure `policy` lists as memorized (streamed by
 *   `httpBatchStreamLink`, fetched without the link, hydrated without a report): see
 *   the `unreported` option — stale at once by default.
 *
 * It installs a `staleTime` function in the QueryClient's default query options,
 * so it covers the queries of `createMemoHooks` and of `@trpc/tanstack-react-query`
 * alike (both use the key `[path.split('.'), { input?, type }]`). Queries the server
 * did not memorize, and every non-tRPC query, keep the `staleTime` the QueryClient
 * had before. A `staleTime` given to one query still wins for that query.
 * React Query keeps suspense queries fresh for at least 1 s whatever `staleTime`
 * says; data whose server entry has less left is marked stale (invalidated, without
 * a refetch) when the entry expires.
 *
 * Returns a function that undoes it. `getCacheHint(queryClient, queryKey)` then
 * reads from the same `hints` registry.
 *
 * @example
 * ```ts
 * // one line where the app makes its QueryClient (browser and server alike)
 * const queryClient = new QueryClient();
 * mirrorServerTtl(queryClient, { policy });
 * ```
 */
export function mirrorServerTtl(queryClient: QueryClient, options: MirrorServerTtlOptions = {}): () => void {
  if (typeof (queryClient as Partial<QueryClient> | null)?.getDefaultOptions !== 'function') {
    throw new TypeError(
      `mirrorServerTtl(): the first argument must be a QueryClient, got ${describe(queryClient)}`,
    );
  }
  const { policy, hints = defaultHints, unreported = 'stale' } = options;
  if (policy !== undefined && (policy === null || typeof policy !== 'object' || Array.isArray(policy))) {
    throw invalidOption(
      'policy',
      policy,
      "an object such as { 'post.byId': { expire: 60 } } (from cachePolicy(appRouter))",
    );
  }
  if (unreported !== 'stale' && unreported !== 'policy') {
    throw invalidOption('unreported', unreported, "'stale' (the default) or 'policy'");
  }
  if (!isCacheHints(hints)) {
    throw invalidOption('hints', hints, 'a registry made by createCacheHints()');
  }

  const defaults = queryClient.getDefaultOptions();
  const previous = defaults.queries?.staleTime;
  const fallback = (query: Query): StaleTime =>
    typeof previous === 'function' ? previous(query) : (previous ?? 0);

  /** Until when a memorized procedure's data that came with no usable report is fresh. */
  const unreportedUntil = (path: string, dataUpdatedAt: number): number | undefined => {
    const entry = policy?.[path];
    if (entry === undefined || entry.invalidates !== undefined) return undefined;
    if (unreported === 'stale') return dataUpdatedAt;
    return entry.expire === undefined ? Number.POSITIVE_INFINITY : dataUpdatedAt + entry.expire * 1000;
  };

  /**
   * When the query's data stops being fresh (epoch ms, `Infinity` for never), or
   * `undefined` when the QueryClient's own staleTime applies.
   */
  const freshUntil = (query: Query): number | undefined => {
    const key = parseQueryKey(query.queryKey);
    if (key === undefined) return undefined;
    const { dataUpdatedAt } = query.state;
    if (key.type === 'query') {
      const hydrated = hydrationHintOf(query);
      if (hydrated !== undefined) {
        const { staleAt } = hydrated;
        if (staleAt === null) return undefined;
        if (hydrated.source === 'stale') return dataUpdatedAt;
        if (staleAt === 'pending' || staleAt === 'unreported')
          return unreportedUntil(key.path, dataUpdatedAt);
        return staleAt;
      }
      const hint = registryOf(hints).lookup(key.path, key.input, dataUpdatedAt);
      if (hint !== undefined) {
        if (hint.staleAt === null) return undefined;
        // Served past its server expiry (stale-while-revalidate, stale-if-error): never fresh.
        if (hint.source === 'stale') return dataUpdatedAt;
        // A streamed response's per-call policy: the server memorizes it, but how long
        // this call's entry has left, nothing said.
        if (hint.exact || unreported === 'policy') return Math.max(dataUpdatedAt, hint.staleAt);
        return dataUpdatedAt;
      }
    }
    return unreportedUntil(key.path, dataUpdatedAt);
  };

  // Hydrated data keeps the server's dataUpdatedAt, so this may be negative: it is
  // React Query's `dataUpdatedAt + staleTime` that must land on the moment.
  const staleTime = (query: Query): StaleTime => {
    const until = freshUntil(query);
    return until === undefined ? fallback(query) : until - query.state.dataUpdatedAt;
  };

  // useSuspenseQuery counts data fresh for at least a second whatever staleTime says;
  // data whose server entry has less left is marked stale (invalidated without a
  // refetch, like staleness) when the entry expires.
  const timers = new Map<Query, ReturnType<typeof setTimeout>>();
  const settled = (query: Query): void => {
    if (typeof window === 'undefined') return;
    const until = freshUntil(query);
    const { dataUpdatedAt } = query.state;
    if (until === undefined || !Number.isFinite(until) || until - dataUpdatedAt >= MIN_SUSPENSE_STALE_MS)
      return;
    clearTimeout(timers.get(query));
    const timer = setTimeout(
      () => {
        timers.delete(query);
        if (query.state.dataUpdatedAt !== dataUpdatedAt || query.state.isInvalidated) return;
        void queryClient.invalidateQueries({ queryKey: query.queryKey, exact: true, refetchType: 'none' });
      },
      Math.max(0, until - now()),
    );
    timers.set(query, timer);
  };
  queryClient.setDefaultOptions({ ...defaults, queries: { ...defaults.queries, staleTime } });

  const detach = attachHints(queryClient, hints);
  const stopHydration = watchHydration(queryClient, settled);
  const stop = registryOf(hints).onMutation(queryClient, invalidateOnMutation(policy, hints));
  const stopMutations = invalidateAfterMutations(queryClient, policy, hints);

  return () => {
    stopMutations();
    stop();
    stopHydration();
    for (const timer of timers.values()) clearTimeout(timer);
    timers.clear();
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
