import type { Query, QueryCacheNotifyEvent, QueryClient } from '@tanstack/react-query';
import { parseServerTtlMeta, SERVER_TTL_META, type ServedFrom, type ServerTtlMeta } from './protocol.js';
import { parseQueryKey } from './query-key.js';

/**
 * What the server said about the data a query got from server rendering (through
 * `hydrate()` / `HydrationBoundary`). @internal
 */
export interface HydrationHint {
  /**
   * The `dataUpdatedAt` of the hydrated data; `undefined` while it is still on its way
   * (a query the server dehydrated while pending, whose data streams in later).
   */
  dataUpdatedAt: number | undefined;
  /**
   * The `dataUpdateCount` of the hydrated data (with `dataUpdatedAt`, which data it
   * is: every later fetch counts one more, even one landing on the very millisecond
   * the server's clock read when it fetched).
   */
  dataUpdateCount: number | undefined;
  /**
   * When the data stops being fresh (epoch ms, the browser's clock; `Infinity` for
   * never); `null` when the server did not cache it (the QueryClient's own staleTime
   * applies); `'unreported'` when the data came without a report the browser can
   * use; `'pending'` while the report is still streaming in.
   */
  staleAt: number | null | 'unreported' | 'pending';
  /** `'hit'` or `'miss'` as the server reported it. */
  source: ServedFrom | undefined;
  /**
   * The tags of the server's entry for this data: `[]` for none, `'*'` for too many
   * to list, `undefined` when the server did not say (not cached, no report, or still
   * streaming in).
   */
  tags: readonly string[] | '*' | undefined;
}

const byQuery = new WeakMap<Query, HydrationHint>();

/**
 * A page rendered more than this long before the browser asked for it was not
 * rendered for this request (prerendered at build time, or served by a cache), so
 * its remaining times are not counted from the request. This compares two clocks:
 * a browser whose clock runs more than this ahead of the server's only gets stale
 * data a refetch sooner, and a prerendered page is trusted for at most this long.
 */
const RENDERED_FOR_ANOTHER_REQUEST_MS = 10_000;

interface NavigationTiming {
  requestStart: number;
  transferSize?: number;
  decodedBodySize?: number;
}

/**
 * When the browser sent the request for the current document (epoch ms, the
 * browser's clock), or `undefined` when it cannot tell (not a browser, or the page
 * came from the HTTP cache, so its content is older than the request).
 *
 * The server rendered the page after this moment, so an entry with `expiresIn` ms
 * left when rendering began expires no earlier than this moment plus `expiresIn`:
 * counting from here is never late, however long the page (or a part of it streamed
 * later) took to arrive, and is early only by the time the request took to reach the
 * server. Client-side navigations fetch their server-component payload later than
 * this, so counting from the document's request keeps them safe too (only earlier).
 */
function documentRequestStart(): number | undefined {
  const performance = (globalThis as { performance?: Performance }).performance;
  if (typeof performance?.getEntriesByType !== 'function') return undefined;
  const [navigation] = performance.getEntriesByType('navigation') as unknown as NavigationTiming[];
  if (navigation === undefined) return undefined;
  if (navigation.transferSize === 0 && (navigation.decodedBodySize ?? 0) > 0) return undefined;
  return performance.timeOrigin + Math.max(0, navigation.requestStart);
}

function staleAtOf(meta: ServerTtlMeta | undefined): HydrationHint['staleAt'] {
  if (meta === undefined) return 'unreported';
  if (meta.expiresIn === null) return null;
  const requestStart = documentRequestStart();
  if (requestStart === undefined || requestStart - meta.renderedAt > RENDERED_FOR_ANOTHER_REQUEST_MS) {
    return 'unreported';
  }
  return meta.expiresIn === 'inf' ? Number.POSITIVE_INFINITY : requestStart + meta.expiresIn;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** What the report says about the data, apart from which data it is. */
function reported(meta: ServerTtlMeta | undefined): Pick<HydrationHint, 'staleAt' | 'source' | 'tags'> {
  return { staleAt: staleAtOf(meta), source: meta?.source ?? undefined, tags: meta?.tags ?? undefined };
}

/** Which data the query holds now: what a hint records to tell whether it still describes it. */
function currentData(query: Query): Pick<HydrationHint, 'dataUpdatedAt' | 'dataUpdateCount'> {
  return query.state.data === undefined
    ? { dataUpdatedAt: undefined, dataUpdateCount: undefined }
    : { dataUpdatedAt: query.state.dataUpdatedAt, dataUpdateCount: query.state.dataUpdateCount };
}

function onAdded(query: Query, settled: (query: Query) => void): void {
  const raw = (query.meta as Record<string, unknown> | undefined)?.[SERVER_TTL_META];
  if (raw === undefined) return;
  if (!isThenable(raw)) {
    byQuery.set(query, { ...currentData(query), ...reported(parseServerTtlMeta(raw)) });
    return;
  }
  const hint: HydrationHint = {
    ...currentData(query),
    staleAt: 'pending',
    source: undefined,
    tags: undefined,
  };
  byQuery.set(query, hint);
  Promise.resolve(raw).then(
    (value) => {
      // A streamed query's tags, too, arrive only now.
      Object.assign(hint, reported(parseServerTtlMeta(value)));
      if (query.state.data !== undefined) settled(query);
    },
    () => {
      hint.staleAt = 'unreported';
    },
  );
}

function onEvent(event: QueryCacheNotifyEvent, settled: (query: Query) => void): void {
  const { query } = event;
  const key = parseQueryKey(query.queryKey);
  if (key === undefined) return;
  if (event.type === 'added') {
    if (key.type === 'query') onAdded(query, settled);
    if (query.state.data !== undefined) settled(query);
    return;
  }
  if (event.type !== 'updated') return;
  const { action } = event;
  if (key.type !== 'query') {
    if (action.type === 'success') settled(query);
    return;
  }
  const hint = byQuery.get(query);
  if (action.type === 'setState') {
    // hydrate() into a query the browser already had: new data, and no report with it
    // (React Query keeps the existing query's meta).
    if (query.state.data !== undefined && hint?.dataUpdatedAt !== query.state.dataUpdatedAt) {
      byQuery.set(query, {
        ...currentData(query),
        staleAt: 'unreported',
        source: undefined,
        tags: undefined,
      });
    }
  } else if (hint !== undefined && hint.dataUpdatedAt === undefined) {
    // The first outcome after hydration is the streamed data the report describes.
    if (action.type === 'success') Object.assign(hint, currentData(query));
    else if (action.type === 'error') byQuery.delete(query);
  }
  if (action.type === 'success' || action.type === 'setState') settled(query);
}

/**
 * Records the server's report of every tRPC query `queryClient` hydrates, from the
 * `meta` that `reportServerTtl` put on it on the server, and calls `settled(query)`
 * whenever a tRPC query got new data (or the report of its data arrived). Returns
 * the undo.
 *
 * @internal
 */
export function watchHydration(queryClient: QueryClient, settled: (query: Query) => void): () => void {
  return queryClient.getQueryCache().subscribe((event) => onEvent(event, settled));
}

/** The hydration report describing the data `query` holds now, if its data came from server rendering. @internal */
export function hydrationHintOf(query: Query): HydrationHint | undefined {
  const hint = byQuery.get(query);
  if (hint === undefined || query.state.data === undefined) return undefined;
  if (hint.dataUpdatedAt === undefined) return hint;
  const { dataUpdatedAt, dataUpdateCount } = query.state;
  return hint.dataUpdatedAt === dataUpdatedAt && hint.dataUpdateCount === dataUpdateCount ? hint : undefined;
}
