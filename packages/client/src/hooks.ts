import {
  type DataTag,
  type QueryFunction,
  type SkipToken,
  skipToken,
  type UseMutationOptions,
  type UseMutationResult,
  type UseQueryOptions,
  type UseQueryResult,
  type UseSuspenseQueryOptions,
  type UseSuspenseQueryResult,
  useMutation,
  useQuery,
  useSuspenseQuery,
} from '@tanstack/react-query';
import { getUntypedClient, type TRPCClient, type TRPCClientErrorLike } from '@trpc/client';
import type {
  AnyTRPCClientTypes,
  AnyTRPCMutationProcedure,
  AnyTRPCQueryProcedure,
  AnyTRPCRouter,
  inferProcedureInput,
  inferTransformedProcedureOutput,
  TRPCRouterRecord,
} from '@trpc/server';
import { queryKeyOf, type TRPCMutationKey, type TRPCQueryKey } from './query-key.js';

/**
 * A query key that carries the procedure's output and error types, for
 * `getQueryData` and friends.
 *
 * @example
 * ```ts
 * const key = api.post.byId.queryKey({ id: '1' }); // MemoQueryKey<Post, …>
 * queryClient.getQueryData(key)?.title; // typed
 * ```
 */
export type MemoQueryKey<TOutput, TError> = DataTag<TRPCQueryKey, TOutput, TError>;

/**
 * Options of `useQuery` / `queryOptions`: React Query's, without the key and
 * function the hook builds.
 *
 * @example
 * ```ts
 * api.post.byId.useQuery({ id }, { enabled: open, select: (post) => post.title });
 * ```
 */
export type MemoQueryOptions<TOutput, TError, TData = TOutput> = Omit<
  UseQueryOptions<TOutput, TError, TData, TRPCQueryKey>,
  'queryKey' | 'queryFn'
>;

/**
 * Options of `useSuspenseQuery`: React Query's, without the key and function the hook builds.
 *
 * @example
 * ```ts
 * const { data: title } = api.post.byId.useSuspenseQuery({ id }, { select: (post) => post.title });
 * ```
 */
export type MemoSuspenseQueryOptions<TOutput, TError, TData = TOutput> = Omit<
  UseSuspenseQueryOptions<TOutput, TError, TData, TRPCQueryKey>,
  'queryKey' | 'queryFn'
>;

/**
 * Options of `useMutation`: React Query's, without the key and function the hook builds.
 *
 * @example
 * ```ts
 * api.post.rename.useMutation({ onSuccess: () => toast('Saved') });
 * ```
 */
export type MemoMutationOptions<TInput, TOutput, TError, TOnMutateResult = unknown> = Omit<
  UseMutationOptions<TOutput, TError, TInput, TOnMutateResult>,
  'mutationKey' | 'mutationFn'
>;

/**
 * What `queryOptions` returns: ready for `useQuery`, `queryClient.fetchQuery`, `prefetchQuery`…
 *
 * @example
 * ```ts
 * await queryClient.prefetchQuery(api.post.byId.queryOptions({ id: '1' }));
 * ```
 */
export type MemoQueryOptionsResult<TOutput, TError, TData = TOutput> = MemoQueryOptions<
  TOutput,
  TError,
  TData
> & {
  queryKey: MemoQueryKey<TOutput, TError>;
  queryFn: QueryFunction<TOutput, TRPCQueryKey> | SkipToken;
};

/**
 * The hooks of a query procedure.
 *
 * @example
 * ```ts
 * const post = api.post.byId.useQuery({ id }); // post.data: Post | undefined
 * ```
 */
export interface MemoQueryProcedure<TInput, TOutput, TError> {
  /**
   * `useQuery` for this procedure; its staleness is the server's remaining TTL when
   * the QueryClient is mirrored. Pass `skipToken` as input to disable it.
   */
  useQuery<TData = TOutput>(
    input: TInput | SkipToken,
    opts?: MemoQueryOptions<TOutput, TError, TData>,
  ): UseQueryResult<TData, TError>;
  /** `useSuspenseQuery` for this procedure. */
  useSuspenseQuery<TData = TOutput>(
    input: TInput,
    opts?: MemoSuspenseQueryOptions<TOutput, TError, TData>,
  ): UseSuspenseQueryResult<TData, TError>;
  /** The options `useQuery` would use, for `queryClient.fetchQuery`, `prefetchQuery`, `useQueries`… */
  queryOptions<TData = TOutput>(
    input: TInput | SkipToken,
    opts?: MemoQueryOptions<TOutput, TError, TData>,
  ): MemoQueryOptionsResult<TOutput, TError, TData>;
  /** The query key, in `@trpc/tanstack-react-query`'s format: `[path.split('.'), { input?, type: 'query' }]`. */
  queryKey(input?: TInput): MemoQueryKey<TOutput, TError>;
}

/**
 * The hooks of a mutation procedure.
 *
 * @example
 * ```ts
 * const rename = api.post.rename.useMutation();
 * rename.mutate({ id, title: 'New' });
 * ```
 */
export interface MemoMutationProcedure<TInput, TOutput, TError> {
  /** `useMutation` for this procedure. */
  useMutation<TOnMutateResult = unknown>(
    opts?: MemoMutationOptions<TInput, TOutput, TError, TOnMutateResult>,
  ): UseMutationResult<TOutput, TError, TInput, TOnMutateResult>;
  /** The mutation key: `[path.split('.')]`. */
  mutationKey(): TRPCMutationKey;
}

type ClientTypesOf<TRouter extends AnyTRPCRouter> = {
  transformer: TRouter['_def']['_config']['$types']['transformer'];
  errorShape: TRouter['_def']['_config']['$types']['errorShape'];
};

type DecorateRecord<TRoot extends AnyTRPCClientTypes, TRecord extends TRPCRouterRecord> = {
  [TKey in keyof TRecord]: TRecord[TKey] extends infer $Value
    ? $Value extends AnyTRPCQueryProcedure
      ? MemoQueryProcedure<
          inferProcedureInput<$Value>,
          inferTransformedProcedureOutput<TRoot, $Value>,
          TRPCClientErrorLike<TRoot>
        >
      : $Value extends AnyTRPCMutationProcedure
        ? MemoMutationProcedure<
            inferProcedureInput<$Value>,
            inferTransformedProcedureOutput<TRoot, $Value>,
            TRPCClientErrorLike<TRoot>
          >
        : $Value extends TRPCRouterRecord
          ? DecorateRecord<TRoot, $Value>
          : never
    : never;
};

/**
 * Typed hooks mirroring the shape of `TRouter`: `api.post.byId.useQuery(…)`.
 *
 * @example
 * ```ts
 * export const api: MemoHooks<AppRouter> = createMemoHooks<AppRouter>({ client: trpc });
 * ```
 */
export type MemoHooks<TRouter extends AnyTRPCRouter> = DecorateRecord<
  ClientTypesOf<TRouter>,
  TRouter['_def']['record']
>;

/**
 * Options of {@link createMemoHooks}.
 *
 * @example
 * ```ts
 * createMemoHooks<AppRouter>({ client: trpc, abortOnUnmount: true });
 * ```
 */
export interface CreateMemoHooksOptions<TRouter extends AnyTRPCRouter> {
  /** The tRPC client, from `createTRPCClient<AppRouter>(…)`; give it `cacheHintsLink()` to mirror TTLs. */
  client: TRPCClient<TRouter>;
  /**
   * Abort a query's request when the last component using it unmounts (React
   * Query then refetches on the next mount). Default `false`, as in
   * `@trpc/tanstack-react-query`: a component that unmounts and mounts again
   * while its data loads does not start over.
   *
   * @default false
   */
  abortOnUnmount?: boolean;
}

type UntypedClient = ReturnType<typeof getUntypedClient>;

function queryOptionsOf(
  setup: Setup,
  path: string,
  input: unknown,
  opts: object | undefined,
): UseQueryOptions<unknown, Error, unknown, TRPCQueryKey> {
  if (input === skipToken) return { ...opts, queryKey: queryKeyOf(path, undefined), queryFn: skipToken };
  return { ...opts, queryKey: queryKeyOf(path, input), queryFn: queryFnOf(setup, path, input) };
}

/** What the hooks of one `createMemoHooks` call share. */
interface Setup {
  client: UntypedClient;
  abortOnUnmount: boolean;
}

type Method = (setup: Setup, path: string, first: unknown, second: object | undefined) => unknown;

/** The query function; it hands React Query's signal to the request only when asked to. */
function queryFnOf(setup: Setup, path: string, input: unknown): QueryFunction<unknown, TRPCQueryKey> {
  // Reading `signal` is what tells React Query it may cancel the fetch on unmount.
  return setup.abortOnUnmount
    ? ({ signal }) => setup.client.query(path, input, { signal })
    : () => setup.client.query(path, input);
}

// Each hook is called at the top of its own function; the proxy picks one per call site,
// which stays the same from render to render, as the rules of hooks require.
const methods: Record<string, Method> = {
  queryKey: (_setup, path, input) => queryKeyOf(path, input),
  queryOptions: queryOptionsOf,
  useQuery: function useProcedureQuery(setup, path, input, opts) {
    return useQuery(queryOptionsOf(setup, path, input, opts));
  },
  useSuspenseQuery: function useProcedureSuspenseQuery(setup, path, input, opts) {
    return useSuspenseQuery({
      ...opts,
      queryKey: queryKeyOf(path, input),
      queryFn: queryFnOf(setup, path, input),
    });
  },
  mutationKey: (_setup, path) => [path.split('.')],
  useMutation: function useProcedureMutation(setup, path, opts) {
    return useMutation({
      ...(opts as object | undefined),
      mutationKey: [path.split('.')],
      mutationFn: (input: unknown) => setup.client.mutation(path, input),
    });
  },
};

/**
 * Typed React Query hooks for every procedure of `AppRouter`, built on your tRPC
 * client: `api.post.byId.useQuery({ id })`, `useSuspenseQuery`, `useMutation`,
 * `queryOptions`, `queryKey`. Inputs and outputs are typed from the router (a
 * wrong input is a compile error); query keys use `@trpc/tanstack-react-query`'s
 * format, so both can share one QueryClient and its cache. With
 * `mirrorServerTtl(queryClient)` and `cacheHintsLink()` every query is fresh for
 * as long as the server's cached result, with no `staleTime` to write.
 *
 * The hooks use the QueryClient of the nearest `QueryClientProvider`.
 *
 * @example
 * ```tsx
 * import type { AppRouter } from '../server/router';
 *
 * const trpc = createTRPCClient<AppRouter>({ links: [cacheHintsLink(), httpBatchLink({ url: '/trpc', headers: cacheHintsHeaders() })] });
 * export const api = createMemoHooks<AppRouter>({ client: trpc });
 *
 * function Post({ id }: { id: string }) {
 *   const post = api.post.byId.useQuery({ id });
 *   const rename = api.post.rename.useMutation();
 *   if (!post.data) return null;
 *   return <button onClick={() => rename.mutate({ id, title: 'New' })}>{post.data.title}</button>;
 * }
 * ```
 */
export function createMemoHooks<TRouter extends AnyTRPCRouter>(
  options: CreateMemoHooksOptions<TRouter>,
): MemoHooks<TRouter> {
  const given: unknown = options?.client;
  // getUntypedClient reads a symbol off its argument: guard first so a missing client gets this message.
  const client =
    (typeof given === 'object' && given !== null) || typeof given === 'function'
      ? (getUntypedClient(given as TRPCClient<TRouter>) as UntypedClient | undefined)
      : undefined;
  if (client === undefined) {
    throw new TypeError(
      `createMemoHooks(): option "client" must be a client made by createTRPCClient<AppRouter>(…), got ${given === null ? 'null' : typeof given}`,
    );
  }
  const setup: Setup = { client, abortOnUnmount: options.abortOnUnmount === true };
  const proxies = new Map<string, unknown>();
  const proxyAt = (segments: readonly string[]): unknown => {
    const id = segments.join('\u0000');
    let proxy = proxies.get(id);
    if (proxy === undefined) {
      proxy = new Proxy(() => undefined, {
        get: (_target, key) =>
          // Not thenable, so returning the hooks from an async function does not call them.
          typeof key !== 'string' || key === 'then' ? undefined : proxyAt([...segments, key]),
        apply: (_target, _this, args: unknown[]) => {
          const method = methods[segments.at(-1) ?? ''];
          if (segments.length < 2 || method === undefined) {
            throw new TypeError(
              `createMemoHooks(): "${segments.join('.')}" is not a hook; call useQuery, useSuspenseQuery, queryOptions, queryKey, useMutation or mutationKey on a procedure`,
            );
          }
          const [first, second] = args as [unknown, object | undefined];
          return method(setup, segments.slice(0, -1).join('.'), first, second);
        },
      });
      proxies.set(id, proxy);
    }
    return proxy;
  };
  return proxyAt([]) as MemoHooks<TRouter>;
}
