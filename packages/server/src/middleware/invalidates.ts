import type { AnyTRPCRouter, TRPCProcedureType } from '@trpc/server';
import type { Cache } from '../cache/cache.js';
import { CacheManager } from '../cache/manager.js';
import { InvalidOptionError, UnknownProcedureError, UnsupportedUseError } from '../errors.js';
import { reportInvalidated } from './call-channel.js';
import { assertKnownOptions } from './memorize-options.js';
import { INVALIDATES_TAG, type InvalidatesTag, memorizeTagOf, proceduresOf } from './procedure-tags.js';
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
 * The procedure paths a mutation invalidates: a fixed list, or a function of the call.
 *
 * @example
 * ```ts
 * const paths: InvalidatesPaths = ['post.byId', 'post.list'];
 * ```
 */
export type InvalidatesPaths<TContext = object, TInput = unknown> =
  | readonly string[]
  | ((call: InvalidatesCall<TContext, TInput>) => readonly string[] | Promise<readonly string[]>);

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
   * instance), and a static path that names no procedure is an error at the first
   * call. Default: none — each path is cleared as the namespace of the same name.
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
function isPathList(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((path) => typeof path === 'string' && path.length > 0);
}

/**
 * tRPC middleware for mutations: after the mutation succeeds, it drops the cached
 * results of the given procedures (their `memorize` namespace, by default the
 * procedure path) and tells the client, whose `mirrorServerTtl` invalidates the
 * matching React Query queries. A failed mutation invalidates nothing.
 *
 * A cache failure (Redis down) does not fail the mutation: it is reported through
 * the cache's `onError` hook and the client is still told to refetch.
 *
 * @param paths Procedure paths such as `'post.byId'`, or a function of the call
 * (`{ path, ctx, input, data }`) returning them.
 *
 * @example
 * ```ts
 * const appRouter = t.router({
 *   post: t.router({
 *     byId: t.procedure.input(z.object({ id: z.string() })).use(memorize({ expire: 60 })).query(load),
 *     list: t.procedure.use(memorize({ expire: 30, namespace: 'posts' })).query(list),
 *     update: t.procedure
 *       .input(z.object({ id: z.string(), title: z.string() }))
 *       // `router` lets it find the 'posts' namespace of post.list
 *       .use(invalidates(['post.byId', 'post.list'], { router: (): AnyTRPCRouter => appRouter }))
 *       .mutation(update),
 *     remove: t.procedure
 *       .input(z.object({ id: z.string() }))
 *       .use(invalidates<object, { id: string }>(({ input }) => (input.id === 'home' ? ['post.byId', 'post.list'] : ['post.byId'])))
 *       .mutation(remove),
 *   }),
 * });
 * ```
 *
 * @throws {InvalidOptionError} at once when `paths` is not a list of paths or a function.
 */
export function invalidates<TContext = object, TInput = unknown>(
  paths: InvalidatesPaths<TContext, TInput>,
  options: InvalidatesOptions = {},
): InvalidatesMiddleware<TContext, TInput> {
  if (typeof paths !== 'function' && !isPathList(paths)) {
    throw new InvalidOptionError(
      WHERE,
      'paths',
      paths,
      "an array of procedure paths such as ['post.byId'], or a function of the call returning one",
    );
  }
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
  const candidate = givenCache as { clear?: unknown } | null | undefined;
  if (givenCache !== undefined && (candidate === null || typeof candidate?.clear !== 'function')) {
    throw new InvalidOptionError(WHERE, 'cache', givenCache, 'a cache made by createCache() (or omitted)');
  }
  const staticPaths = typeof paths === 'function' ? undefined : [...new Set(paths)];
  let staticPathsChecked = false;

  function targetOf(path: string, strict: boolean): { cache: Cache | undefined; namespace: string } {
    if (router === undefined) return { cache: givenCache, namespace: path };
    const procedure = proceduresOf(router())[path];
    if (procedure === undefined && strict) {
      const known = Object.keys(proceduresOf(router())).slice(0, 5);
      throw new UnknownProcedureError(
        `invalidates(): "${path}" is not a procedure of the router given as "router"; expected one of its paths, such as ${known.map((p) => `'${p}'`).join(', ')}`,
      );
    }
    const tag = memorizeTagOf(procedure);
    return { cache: givenCache ?? (tag?.cache as Cache | undefined), namespace: tag?.namespace ?? path };
  }

  async function clear(list: readonly string[], strict: boolean): Promise<void> {
    const seen = new Map<Cache, Set<string>>();
    const clears: Promise<void>[] = [];
    for (const path of list) {
      const target = targetOf(path, strict);
      const cache = target.cache ?? (CacheManager.initialized ? CacheManager.instance : undefined);
      // Nothing was ever cached in a cache that does not exist.
      if (cache === undefined) continue;
      const namespaces = seen.get(cache) ?? new Set<string>();
      seen.set(cache, namespaces);
      if (namespaces.has(target.namespace)) continue;
      namespaces.add(target.namespace);
      clears.push(cache.clear({ namespace: target.namespace }));
    }
    // Failures were reported through the cache's onError hook; the mutation itself succeeded.
    await Promise.allSettled(clears);
  }

  async function invalidatesMiddleware(opts: CallOptions) {
    if (opts.type !== 'mutation') {
      throw new UnsupportedUseError(
        `invalidates() runs after mutations, but "${opts.path}" is a ${opts.type}: use it on the mutation that changes the data.`,
      );
    }
    // A wrong static path is a programming error: report it before the mutation runs
    // (once they all resolved, the router, part of the app, will not lose them).
    if (!staticPathsChecked && staticPaths !== undefined && router !== undefined) {
      for (const path of staticPaths) targetOf(path, true);
      staticPathsChecked = true;
    }
    const result = await opts.next();
    if (!result.ok) return result;
    let list: readonly string[];
    if (staticPaths !== undefined) {
      list = staticPaths;
    } else {
      const input = opts.input === undefined ? await opts.getRawInput() : opts.input;
      const computed = await (paths as Exclude<InvalidatesPaths<TContext, TInput>, readonly string[]>)({
        path: opts.path,
        ctx: opts.ctx as TContext,
        input: input as TInput,
        data: result.data,
      });
      if (!isPathList(computed)) {
        throw new InvalidOptionError(
          `${WHERE} on "${opts.path}"`,
          'paths',
          computed,
          'a function returning an array of procedure paths',
        );
      }
      list = [...new Set(computed)];
    }
    await clear(list, false);
    reportInvalidated(opts, list);
    return result;
  }

  const tag: InvalidatesTag = { paths: staticPaths };
  Object.defineProperty(invalidatesMiddleware, INVALIDATES_TAG, { value: tag });
  return invalidatesMiddleware as unknown as InvalidatesMiddleware<TContext, TInput>;
}
