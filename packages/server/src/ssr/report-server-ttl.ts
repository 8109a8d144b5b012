import { now } from '../cache/clock.js';
import { InvalidOptionError } from '../errors.js';
import { type CallReport, runInProcess } from '../middleware/call-channel.js';
import { formatTags } from '../middleware/hint-headers.js';

/**
 * The key of a tRPC query's React Query `meta` under which {@link reportServerTtl}
 * puts what the server knew, and `@trpc-memory/client`'s `mirrorServerTtl` reads it
 * back after hydration. Its value is a {@link ServerTtlMeta}, or (for a query still
 * running when the page was dehydrated, streamed by React Server Components) a
 * promise of one.
 *
 * The client package keeps its own copy of this format (it must not import server
 * code); a cross-package test pins both.
 *
 * @internal
 */
export const SERVER_TTL_META = 'trpc-memory';

/** What one server-rendered query carries to the browser in its `meta`. @internal */
export interface ServerTtlMeta {
  /**
   * `'hit'`, `'miss'` or `'stale'` (served past its `expire` within a grace window)
   * as memorize reported it; `null` when the procedure is not memorized or was let through.
   */
  source: 'hit' | 'miss' | 'stale' | null;
  /**
   * Milliseconds from `renderedAt` until the server's entry expires, `'inf'` when it
   * never expires, `null` when the result is not in the server's cache. Counted on
   * the server's own clock between two of its readings, so no clock has to agree with
   * the browser's.
   */
  expiresIn: number | 'inf' | null;
  /**
   * When the server began rendering the page (epoch ms, the server's clock), so the
   * browser can tell a page rendered long before it was requested (prerendered,
   * served from a cache) from one rendered for this request.
   */
  renderedAt: number;
  /**
   * The tags the server's entry carries (`memorize({ tags })`), so that the browser
   * refetches exactly the hydrated queries a mutation's `{ tag }` target names: `[]`
   * for none; `'*'` for more than `cacheHeaders()` lists in its `trpc-memory-tags`
   * entry of a call (any tag may match: the same limit, so both routes of a result
   * say the same); `null` when unknown, because the result is not in the server's
   * cache (not memorized, let through, not stored, failed). Absent from servers that
   * predate it, which the browser reads as unknown too.
   */
  tags: string[] | '*' | null;
}

/** The parts of a React Query `Query` this module uses. */
interface QueryLike {
  readonly queryKey: readonly unknown[];
  readonly options: { meta?: Record<string, unknown> | undefined };
  setOptions(options: never): void;
}

type QueryFunctionLike = (context: never) => unknown;
type PersisterLike = (queryFn: QueryFunctionLike, context: never, query: never) => unknown;

/**
 * The parts of a TanStack Query `QueryClient` {@link reportServerTtl} uses: any
 * `QueryClient` of `@tanstack/react-query` (or another adapter of query-core v5) fits.
 *
 * @example
 * ```ts
 * const queryClient: QueryClientLike = new QueryClient();
 * ```
 */
export interface QueryClientLike {
  getDefaultOptions(): { queries?: object | undefined };
  setDefaultOptions(options: never): void;
}

/** The procedure path of a `@trpc/tanstack-react-query` query key, with or without its `keyPrefix`. */
function procedurePath(queryKey: readonly unknown[]): string | undefined {
  const isPath = (value: unknown): value is string[] =>
    Array.isArray(value) && value.length > 0 && value.every((part) => typeof part === 'string');
  const [path, meta] =
    queryKey.length === 3 && isPath(queryKey[0]) && queryKey[0].length === 1
      ? [queryKey[1], queryKey[2]]
      : [queryKey[0], queryKey[1]];
  if (!isPath(path) || meta === null || typeof meta !== 'object') return undefined;
  // Infinite queries carry a cursor the key does not name: the report of one page says
  // nothing about the others.
  return (meta as { type?: unknown }).type === 'query' ? path.join('.') : undefined;
}

/** The tags of a stored entry as the browser gets them: listed within the header's limit, else `'*'`. */
function tagsOf(tags: readonly string[] | undefined): string[] | '*' {
  if (tags === undefined || tags.length === 0) return [];
  return formatTags(tags) === '*' ? '*' : [...tags];
}

function metaOf(report: CallReport | undefined, renderedAt: number): ServerTtlMeta {
  if (report?.source === undefined || !report.stored) {
    return { source: report?.source ?? null, expiresIn: null, renderedAt, tags: null };
  }
  const expiresIn = report.expiresAt === undefined ? 'inf' : report.expiresAt - renderedAt;
  return { source: report.source, expiresIn, renderedAt, tags: tagsOf(report.tags) };
}

function setMeta(query: QueryLike, value: ServerTtlMeta | Promise<ServerTtlMeta>): void {
  const options = query.options;
  query.setOptions({ ...options, meta: { ...options.meta, [SERVER_TTL_META]: value } } as never);
}

/**
 * Makes a server-side QueryClient carry, with every tRPC query it runs in-process
 * (`createTRPCOptionsProxy({ router, ctx, queryClient })` during server rendering),
 * what the server's cache knew: whether the result was a cache hit, how long its
 * entry has left and which tags it carries. `dehydrate()` sends it along in the
 * query's `meta`, and `mirrorServerTtl` in the browser keeps the hydrated query
 * fresh until exactly that entry expires, never longer, however late the page or a
 * streamed part of it arrives; after a mutation whose `invalidates` names a
 * `{ tag }`, it refetches exactly the hydrated queries whose entry carried it.
 * Returns `queryClient`.
 *
 * The remaining time is counted from when this function ran (one QueryClient per
 * request, created while rendering it), and the browser counts it from when it sent
 * the page request, which happened earlier: no clock has to agree with another.
 *
 * Call it where the server's per-request QueryClient is made, and only there (the
 * browser's QueryClient gets `mirrorServerTtl` alone). It installs a `persister` in
 * the default query options that runs each fetch in an `AsyncLocalStorage` scope
 * (wrapping a persister you set yourself), so memorize can report a call that has
 * no HTTP response. Where the runtime has no `AsyncLocalStorage` the queries simply
 * carry no report, and the browser treats them as stale.
 *
 * @param queryClient The QueryClient of one server render.
 *
 * @example
 * ```ts
 * // src/trpc/server.ts (t3 layout)
 * import 'server-only';
 * import { reportServerTtl } from '@trpc-memory/server';
 *
 * const getQueryClient = cache(() => reportServerTtl(createQueryClient()));
 * export const trpc = createTRPCOptionsProxy({ ctx: createContext, router: appRouter, queryClient: getQueryClient });
 * ```
 *
 * @throws {InvalidOptionError} when `queryClient` is not a QueryClient.
 */
export function reportServerTtl<TClient extends QueryClientLike>(queryClient: TClient): TClient {
  if (typeof (queryClient as Partial<QueryClientLike> | null)?.getDefaultOptions !== 'function') {
    throw new InvalidOptionError(
      'reportServerTtl()',
      'queryClient',
      queryClient,
      'a QueryClient of @tanstack/react-query',
    );
  }
  const renderedAt = now();
  const defaults = queryClient.getDefaultOptions() as { queries?: { persister?: PersisterLike } };
  const previous = defaults.queries?.persister;

  const persister = (queryFn: QueryFunctionLike, context: never, query: QueryLike): unknown => {
    const fetch = () =>
      previous === undefined ? queryFn(context) : previous(queryFn, context, query as never);
    const path = procedurePath(query.queryKey);
    if (path === undefined) return fetch();
    let settle: (meta: ServerTtlMeta) => void = () => {};
    // A promise while the call runs: a page dehydrated meanwhile (streamed server
    // components) sends it, and the browser gets the value when the call is done.
    setMeta(query, new Promise<ServerTtlMeta>((resolve) => (settle = resolve)));
    const { result, call } = runInProcess(path, fetch);
    return Promise.resolve(result).then(
      (data) => {
        const meta = metaOf(call?.report, renderedAt);
        setMeta(query, meta);
        settle(meta);
        return data;
      },
      (error: unknown) => {
        const meta = metaOf(undefined, renderedAt);
        setMeta(query, meta);
        settle(meta);
        throw error;
      },
    );
  };
  queryClient.setDefaultOptions({ ...defaults, queries: { ...defaults.queries, persister } } as never);
  return queryClient;
}
