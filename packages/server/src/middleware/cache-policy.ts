import type { AnyTRPCRouter } from '@trpc/server';
import { effectiveExpire, invalidatesTagOf, memorizeTagOf, proceduresOf } from './procedure-tags.js';

/**
 * What {@link cachePolicy} knows about one procedure. Plain JSON, so it can travel to the client.
 *
 * @example
 * ```ts
 * const byId: ProcedureCachePolicy = cachePolicy(appRouter)['post.byId']; // { expire: 60 }
 * ```
 */
export interface ProcedureCachePolicy {
  /**
   * A memorized query: the time to live of its results in seconds (its `expire`,
   * or the cache's default `expire`). Absent on a memorized query whose results
   * never expire, and on mutations.
   */
  expire?: number;
  /** A mutation using `invalidates([...])`: the procedure paths it invalidates on success. */
  invalidates?: string[];
}

/**
 * Procedure path (`'post.byId'`) → its static cache policy.
 *
 * @example
 * ```ts
 * const policy: CachePolicy = cachePolicy(appRouter);
 * html.replace('</head>', `<script>window.__CACHE_POLICY__=${JSON.stringify(policy)}</script></head>`);
 * ```
 */
export type CachePolicy = Record<string, ProcedureCachePolicy>;

/**
 * The static cache policy of a router: every memorized query with its `expire`
 * (seconds) and every mutation with its static `invalidates([...])` paths. Found by
 * walking the router for the middlewares `memorize()` and `invalidates()` return.
 *
 * Use it where per-call headers cannot travel: server-side rendering, a streaming
 * link (`httpBatchStreamLink` sends headers before the procedures run), or a
 * build step that writes the policy for the client. Pass it to the client's
 * `mirrorServerTtl(queryClient, { policy })`. A memorized query without its own
 * `expire` takes the cache's default, so call this after `initCache()`. Procedures
 * of `lazy()` routers appear once those are loaded.
 *
 * The policy is an upper bound: a result the server cached 40 s ago under
 * `expire: 60` has 20 s left, which only the per-call headers of
 * {@link cacheHeaders} can tell.
 *
 * @example
 * ```ts
 * const appRouter = t.router({
 *   post: t.router({
 *     byId: t.procedure.input(z.object({ id: z.string() })).use(memorize({ expire: 60 })).query(load),
 *     create: t.procedure.input(newPost).use(invalidates(['post.byId'])).mutation(create),
 *   }),
 * });
 * cachePolicy(appRouter);
 * // { 'post.byId': { expire: 60 }, 'post.create': { invalidates: ['post.byId'] } }
 * ```
 */
export function cachePolicy(router: AnyTRPCRouter): CachePolicy {
  const policy: CachePolicy = {};
  for (const [path, procedure] of Object.entries(proceduresOf(router))) {
    const memorized = memorizeTagOf(procedure);
    if (memorized !== undefined) {
      const expire = effectiveExpire(memorized);
      policy[path] = expire === undefined ? {} : { expire };
    }
    const paths = invalidatesTagOf(procedure)?.paths;
    if (paths !== undefined) policy[path] = { ...policy[path], invalidates: [...paths] };
  }
  return policy;
}
