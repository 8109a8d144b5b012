import type { AnyTRPCRouter, TRPCProcedureType } from '@trpc/server';
import type { Cache } from '../cache/cache.js';
import { InvalidOptionError, UnsupportedUseError } from '../errors.js';
import { reportInvalidated } from './call-channel.js';
import {
  applyTargets,
  assertInvalidationCache,
  type InvalidationTarget,
  type NormalizedTarget,
  normalizeTargets,
  resolvePath,
} from './invalidation.js';
import { assertKnownOptions } from './memorize-options.js';
import { INVALIDATES_TAG, type InvalidatesTag } from './procedure-tags.js';
import type { MiddlewareOptions, MiddlewareResult } from './trpc-middleware.js';

/**
 * What a function given to {@link invalidates} receives, after the mutation succeeded.
 *
 * @example
 * ```ts
 * invalidates<Ctx, { id: string }>(({ input, data }: InvalidatesCall<Ctx, { id: string }>) =>
 *   data === 'moved' ? ['post.byId', 'post.list'] : ['post.byId'],
 * );
 * ```
 */
export interface InvalidatesCall<TContext = object, TInput = unknown> {
  /** The mutation's path, e.g. `'post.update'`. */
  path: string;
  /** The context at the point where `invalidates` stands. */
  ctx: TContext;
  /** The validated input when `invalidates` stands after `.input()`, else the raw input. */
  input: TInput;
  /** What the mutation returned. */
  data: unknown;
}

/**
 * What a mutation invalidates: a fixed list of targets (procedure paths, inputs,
 * tags), or a function of the call returning one.
 *
 * @example
 * ```ts
 * const targets: InvalidatesTargets<object, { id: string }> = ({ input }) => [
 *   { path: 'post.byId', input: { id: input.id } },
 *   'post.list',
 * ];
 * ```
 */
export type InvalidatesTargets<TContext = object, TInput = unknown> =
  | readonly InvalidationTarget[]
  | ((
      call: InvalidatesCall<TContext, TInput>,
    ) => readonly InvalidationTarget[] | Promise<readonly InvalidationTarget[]>);

/**
 * The former name of {@link InvalidatesTargets}, from when targets were paths only.
 *
 * @example
 * ```ts
 * const paths: InvalidatesPaths = ['post.byId', 'post.list'];
 * ```
 */
export type InvalidatesPaths<TContext = object, TInput = unknown> = InvalidatesTargets<TContext, TInput>;

/**
 * Options of {@link invalidates}.
 *
 * @example
 * ```ts
 * invalidates(['post.list'], { router: (): AnyTRPCRouter => appRouter, cache: reportsCache });
 * ```
 */
export interface InvalidatesOptions {
  /**
   * The app router, as a function because the mutation is part of it; annotate its
   * return type (`(): AnyTRPCRouter => appRouter`) or TypeScript reports the router
   * as referring to itself. With it,
   * `invalidates` clears the namespace and cache each memorized procedure
   * actually uses (a `memorize({ namespace })` override, a `memorize({ cache })`
   * instance, a `key` function, which input targets call with the mutation's
   * context, and a `scope` function, which tells an input target the caller's scope:
   * without `router`, an input target of a scoped procedure needs its `scope`),
   * drops an input target's entry also under the input as the
   * procedure's `.input()` parses it, invalidates tags in every cache the router's
   * memorized procedures use, and a static path that names no procedure is an
   * error at the first call. Default: none — each path is cleared as the namespace
   * of the same name, in the global (or given) cache.
   *
   * @default none — each path is cleared as the namespace of the same name
   */
  router?: () => AnyTRPCRouter;
  /**
   * The cache to clear. Default: the memorized procedure's own cache, else the global `CacheManager`.
   *
   * @default the memorized procedure's own cache, else the global `CacheManager`
   */
  cache?: Cache;
}

/**
 * The middleware {@link invalidates} returns: usable on any mutation whose context
 * fits `TContext` and whose input fits `TInput`; it changes neither.
 *
 * @example
 * ```ts
 * const clearsPosts: InvalidatesMiddleware = invalidates(['post.byId', 'post.list']);
 * const create = t.procedure.input(newPost).use(clearsPosts).mutation(save);
 * ```
 */
export type InvalidatesMiddleware<TContext = object, TInput = unknown> = <
  TProcedureContext,
  TMeta,
  TContextOverrides,
  TInputOut,
>(
  opts: MiddlewareOptions<TProcedureContext, TMeta, TContextOverrides, TInputOut> & {
    ctx: TContext;
    input: TInput;
  },
) => MiddlewareResult<TContextOverrides>;

interface CallOptions {
  ctx: unknown;
  type: TRPCProcedureType;
  path: string;
  input: unknown;
  getRawInput: () => Promise<unknown>;
  next: () => Promise<{ ok: true; data: unknown } | { ok: false; error: unknown }>;
}

const WHERE = 'invalidates()';
const KNOWN_OPTIONS = ['router', 'cache'];

/**
 * tRPC middleware for mutations: after the mutation succeeds, it drops what the
 * targets name from the server cache and tells the client, whose `mirrorServerTtl`
 * invalidates exactly the matching React Query queries. A failed mutation
 * invalidates nothing.
 *
 * Targets (see {@link InvalidationTarget}):
 * - `'post.list'`: every cached result of that procedure (its `memorize` namespace);
 * - `{ path: 'post.byId', input: { id: '1' } }`: exactly the entry a call with that
 *   input reads (object key order does not matter); on a scoped procedure, the
 *   mutation caller's own entry (the procedure's `scope` applied to the mutation's
 *   context; found through `router`), or with `scope: id`, that scope's, and the whole
 *   procedure when the context gives no scope; in the browser, the queries of that
 *   path whose input matches (React Query's partial key matching);
 * - `{ tag: 'post:1' }`: every entry stored with that tag by `memorize({ tags })`,
 *   whatever its procedure; in the browser, the queries whose results the server
 *   reported with that tag.
 *
 * A cache failure (Redis down) does not fail the mutation: it is reported through
 * the cache's `onError` hook and the client is still told to refetch.
 *
 * @param targets A list of targets, or a function of the call (`{ path, ctx, input, data }`)
 * returning one.
 *
 * @example
 * ```ts
 * const appRouter = t.router({
 *   post: t.router({
 *     byId: t.procedure
 *       .input(z.object({ id: z.string() }))
 *       .use(memorize({ expire: 60, tags: ({ data }) => [`author:${data.authorId}`] }))
 *       .query(load),
 *     list: t.procedure.use(memorize({ expire: 30, namespace: 'posts' })).query(list),
 *     rename: t.procedure
 *       .input(z.object({ id: z.string(), title: z.string() }))
 *       .use(
 *         invalidates<object, { id: string }>(({ input }) => [{ path: 'post.byId', input: { id: input.id } }, 'post.list'], {
 *           router: (): AnyTRPCRouter => appRouter, // finds the 'posts' namespace of post.list
 *         }),
 *       )
 *       .mutation(rename),
 *     banAuthor: t.procedure
 *       .input(z.object({ authorId: z.string() }))
 *       .use(invalidates<object, { authorId: string }>(({ input }) => [{ tag: `author:${input.authorId}` }]))
 *       .mutation(ban),
 *   }),
 *   me: t.router({
 *     note: authed
 *       .input(z.object({ id: z.string() }))
 *       .use(memorize({ expire: 60, scope: (ctx) => ctx.user.id }))
 *       .query(loadNote),
 *     editNote: authed
 *       .input(z.object({ id: z.string(), text: z.string() }))
 *       // the caller's own entry of that note: the scope comes from the mutation's ctx
 *       .use(invalidates<object, { id: string }>(({ input }) => [{ path: 'me.note', input: { id: input.id } }], {
 *         router: (): AnyTRPCRouter => appRouter,
 *       }))
 *       .mutation(saveNote),
 *   }),
 * });
 * ```
 *
 * @throws {InvalidOptionError} at once when `targets` is not a list of targets or a function.
 */
export function invalidates<TContext = object, TInput = unknown>(
  targets: InvalidatesTargets<TContext, TInput>,
  options: InvalidatesOptions = {},
): InvalidatesMiddleware<TContext, TInput> {
  const staticTargets =
    typeof targets === 'function' ? undefined : normalizeTargets(WHERE, 'targets', targets);
  assertKnownOptions(WHERE, options, KNOWN_OPTIONS);
  const { router, cache: givenCache } = options;
  if (router !== undefined && typeof router !== 'function') {
    throw new InvalidOptionError(
      WHERE,
      'router',
      router,
      'a function returning the app router, e.g. () => appRouter',
    );
  }
  assertInvalidationCache(WHERE, givenCache);
  let staticPathsChecked = false;

  async function invalidatesMiddleware(opts: CallOptions) {
    if (opts.type !== 'mutation') {
      throw new UnsupportedUseError(
        `invalidates() runs after mutations, but "${opts.path}" is a ${opts.type}: use it on the mutation that changes the data.`,
      );
    }
    // A wrong static path is a programming error: report it before the mutation runs
    // (once they all resolved, the router, part of the app, will not lose them).
    if (!staticPathsChecked && staticTargets !== undefined && router !== undefined) {
      for (const target of staticTargets) {
        if (target.kind !== 'tag') resolvePath(WHERE, target.path, router, givenCache, true);
      }
      staticPathsChecked = true;
    }
    const result = await opts.next();
    if (!result.ok) return result;
    let list: readonly NormalizedTarget[];
    if (staticTargets !== undefined) {
      list = staticTargets;
    } else {
      const input = opts.input === undefined ? await opts.getRawInput() : opts.input;
      const computed = await (targets as Exclude<InvalidatesTargets<TContext, TInput>, readonly unknown[]>)({
        path: opts.path,
        ctx: opts.ctx as TContext,
        input: input as TInput,
        data: result.data,
      });
      list = normalizeTargets(`${WHERE} on "${opts.path}"`, 'targets', computed);
    }
    try {
      await applyTargets(WHERE, list, { router, cache: givenCache, ctx: opts.ctx, strict: false });
    } catch {
      // Reported through the cache's onError hook; the mutation itself succeeded.
    }
    reportInvalidated(opts, list);
    return result;
  }

  const tag: InvalidatesTag = { targets: staticTargets };
  Object.defineProperty(invalidatesMiddleware, INVALIDATES_TAG, { value: tag });
  return invalidatesMiddleware as unknown as InvalidatesMiddleware<TContext, TInput>;
}
