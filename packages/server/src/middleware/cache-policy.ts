import type { AnyTRPCRouter } from '@trpc/server';
import { uniqueTargets } from './invalidation.js';
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
  /**
   * A mutation using `invalidates([...])` with a fixed list: the targets it
   * invalidates on success (procedure paths, `{ path, input }`, `{ tag }`); an
   * input target's `scope` is left out (a browser holds one user's queries).
   */
  invalidates?: PolicyTarget[];
  /**
   * A memorized query stored with tags: the fixed list of `memorize({ tags: [...] })`,
   * or `'computed'` when they are a function of the call (the client then counts
   * every result of the procedure as carrying any tag, unless the server reported
   * the result's own tags).
   */
  tags?: string[] | 'computed';
}

/**
 * An invalidation target as the policy carries it (plain JSON).
 *
 * @example
 * ```ts
 * const targets: PolicyTarget[] = ['post.list', { path: 'post.byId', input: { id: 'home' } }, { tag: 'posts' }];
 * ```
 */
export type PolicyTarget = string | { path: string; input?: unknown } | { tag: string };

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
 * (seconds) and fixed `tags`, and every mutation with its static
 * `invalidates([...])` targets. Found by
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
      const { tags } = memorized;
      if (tags !== undefined)
        policy[path] = { ...policy[path], tags: tags === 'computed' ? tags : [...tags] };
    }
    const targets = invalidatesTagOf(procedure)?.targets;
    if (targets !== undefined) {
      policy[path] = {
        ...policy[path],
        // Without scopes (a browser holds one user's queries; a scope may be a token).
        invalidates: uniqueTargets(
          targets.map((target) =>
            target.kind === 'input' ? { kind: 'input', path: target.path, input: target.input } : target,
          ),
        ).map((target): PolicyTarget => {
          if (target.kind === 'path') return target.path;
          if (target.kind === 'tag') return { tag: target.tag };
          return target.input === undefined
            ? { path: target.path }
            : { path: target.path, input: target.input };
        }),
      };
    }
  }
  return policy;
}
