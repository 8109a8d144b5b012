/**
 * @trpc-memory/client: mirrors the cache TTLs of a trpc-memory server into
 * TanStack React Query's `staleTime`, mirrors server-side invalidation into the
 * QueryClient, and offers typed hooks for an `AppRouter`.
 *
 * @packageDocumentation
 */

export { type CacheHint, type GetCacheHintOptions, getCacheHint } from './cache-hint.js';
export { type CacheHints, createCacheHints } from './hints.js';
export {
  type CreateMemoHooksOptions,
  createMemoHooks,
  type MemoHooks,
  type MemoMutationOptions,
  type MemoMutationProcedure,
  type MemoQueryKey,
  type MemoQueryOptions,
  type MemoQueryOptionsResult,
  type MemoQueryProcedure,
  type MemoSuspenseQueryOptions,
} from './hooks.js';
export {
  type BatchHeadersFunction,
  type CacheHintsLinkOptions,
  cacheHintsHeaders,
  cacheHintsLink,
} from './link.js';
export {
  type CachePolicy,
  type MirrorServerTtlOptions,
  mirrorServerTtl,
  type PolicyTarget,
} from './mirror.js';
export type { TRPCMutationKey, TRPCQueryKey } from './query-key.js';

/**
 * The version of this package.
 *
 * @example
 * ```ts
 * import { version } from '@trpc-memory/client';
 * console.log(`@trpc-memory/client ${version}`);
 * ```
 */
export const version = '0.1.0';
