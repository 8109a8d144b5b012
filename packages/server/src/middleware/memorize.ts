import type { TRPCProcedureType } from '@trpc/server';
import { assertExpire, type Cache } from '../cache/cache.js';
import { scopeSegment, stableKey, UnkeyableValueError, userKeySegment } from '../cache/key.js';
import { CacheManager } from '../cache/manager.js';
import { type Computed, computeThrough } from '../cache/read-through.js';
import { singleFlight } from '../cache/single-flight.js';
import { InvalidOptionError, TrpcMemoryError } from '../errors.js';
import { reportMemorized } from './call-channel.js';
import { assertCache, assertKnownOptions, assertNamespace } from './memorize-options.js';
import { MEMORIZE_TAG, type MemorizeTag } from './procedure-tags.js';
import type { MiddlewareOptions, MiddlewareResult } from './trpc-middleware.js';

/**
 * What a `key` function receives.
 *
 * @example
 * ```ts
 * memorize({ key: ({ input }) => String((input as { id: string }).id) }); // ignore other input fields
 * ```
 */
export interface MemorizeKeyInput<TContext> {
  /** The procedure path, e.g. `'post.byId'`. */
  path: string;
  /** The raw input, before validation (the same wherever `memorize` stands in the chain). */
  input: unknown;
  /** The context at the point where `memorize` stands. */
  ctx: TContext;
}

/**
 * Options of {@link memorize}.
 *
 * `TContext` is inferred from the procedure `memorize` is used on, so `scope` and
 * `key` see the procedure's context without annotations.
 *
 * @example
 * ```ts
 * authed.use(memorize({ expire: 30, namespace: 'me', scope: (ctx) => ctx.user.id })).query(loadMe);
 * ```
 */
export interface MemorizeOptions<TContext = object> {
  /**
   * Time to live in seconds (fractions allowed: `0.05` is 50 ms). Default: the
   * cache's `expire` (from `initCache`/`createCache`); neither → no expiry.
   */
  expire?: number;
  /**
   * First part of the key, the unit `clear({ namespace })` drops. Default: the
   * procedure path, e.g. `'post.byId'`.
   */
  namespace?: string;
  /**
   * The part of the key that identifies one call. Default: a stable hash of the raw
   * input, so `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }` share an entry. Return a string.
   */
  key?: (opts: MemorizeKeyInput<TContext>) => string;
  /**
   * Who may share a cached result. `'public'` (default): every caller. A function
   * of the context: one partition per returned string (e.g. the user id); `null`
   * (or `undefined`) → this call is not cached. A result cached for one scope is
   * never served to another, nor to public callers.
   */
  scope?: 'public' | ((ctx: TContext) => string | null | undefined);
  /** The cache to use. Default: the global `CacheManager`, looked up at call time. */
  cache?: Cache;
}

/**
 * The middleware {@link memorize} returns: usable in any procedure chain whose
 * context fits `TContext`; it changes neither the context nor the input/output types.
 *
 * @example
 * ```ts
 * const cachedMinute: MemorizeMiddleware = memorize({ expire: 60 });
 * const a = t.procedure.use(cachedMinute).query(loadA);
 * const b = authed.use(cachedMinute).query(loadB);
 * ```
 */
export interface MemorizeMiddleware<TContext = object> {
  <TProcedureContext, TMeta, TContextOverrides, TInputOut>(
    opts: MiddlewareOptions<TProcedureContext, TMeta, TContextOverrides, TInputOut> & { ctx: TContext },
  ): MiddlewareResult<TContextOverrides>;
  /** @internal The static facts `cachePolicy` reads. */
  readonly [MEMORIZE_TAG]: MemorizeTag;
}

/** Loose shapes of the runtime objects, for the implementation only. */
interface CallOptions {
  ctx: unknown;
  type: TRPCProcedureType;
  path: string;
  getRawInput: () => Promise<unknown>;
  signal: AbortSignal | undefined;
  next: () => Promise<StepResult>;
}
type StepResult = { ok: true; data: unknown } | { ok: false; error: unknown };

// tRPC checks this marker only at compile time (see trpc/trpc#4066).
const marker = 'middlewareMarker';
const WHERE = 'memorize()';
const KNOWN_OPTIONS = ['expire', 'namespace', 'key', 'scope', 'cache'];

/**
 * tRPC middleware that memorizes a query's result in the cache (fastapi-memory's
 * `@memorize`). The first call with a given input runs the resolver and stores its
 * result; the next calls within `expire` seconds get the stored result without
 * running it. Concurrent calls with the same key run the resolver once; errors are
 * never cached; a cache failure (Redis down, corrupt entry) never fails the call.
 *
 * Only queries: on a mutation or subscription every call fails with an error.
 *
 * Every call gets its own copy of the result: a hit decodes one from the cache,
 * and calls that waited for a concurrent call's computation (single-flight) each
 * decode one from the entry it stored. Only the call whose resolver ran gets the
 * resolver's own object, and calls that waited for a value the cache cannot
 * encode (a class instance…) share that object.
 *
 * Cancellation stays per call: a call whose request is aborted (the resolver's
 * `signal`) stops waiting at once with its abort reason; the calls waiting with it
 * carry on. tRPC gives the resolver the signal of the call that runs it, so when
 * that call is aborted and the resolver fails, a call still waiting runs the
 * resolver again with its own signal instead of failing with another's abort.
 *
 * On a hit nothing after `memorize` in the chain runs (so neither does a
 * `.input()` placed after it: the raw input of a hit already passed validation
 * when it was stored).
 *
 * @example
 * ```ts
 * const appRouter = t.router({
 *   post: t.router({
 *     byId: t.procedure
 *       .input(z.object({ id: z.string() }))
 *       .use(memorize({ expire: 60 })) // one minute
 *       .query(({ input }) => upstream.getJson(`posts/${input.id}`)),
 *   }),
 *   me: authed.use(memorize({ expire: 30, scope: (ctx) => ctx.user.id })).query(loadMe),
 * });
 * await clearCache({ namespace: 'post.byId' });
 * ```
 *
 * @throws {InvalidOptionError} at once for a bad option (e.g. `expire` not a positive finite number).
 */
export function memorize<TContext = object>(
  options: MemorizeOptions<TContext> = {},
): MemorizeMiddleware<TContext> {
  assertKnownOptions(WHERE, options, KNOWN_OPTIONS);
  const { expire, namespace, key, scope = 'public', cache: givenCache } = options;
  assertExpire(WHERE, expire);
  assertNamespace(WHERE, namespace);
  if (key !== undefined && typeof key !== 'function') {
    throw new InvalidOptionError(WHERE, 'key', key, 'a function ({ path, input, ctx }) => string');
  }
  if (scope !== 'public' && typeof scope !== 'function') {
    throw new InvalidOptionError(WHERE, 'scope', scope, "'public' or a function (ctx) => string | null");
  }
  assertCache(WHERE, givenCache);

  const scopeOf = scope === 'public' ? undefined : scope;
  const visibility = scopeOf === undefined ? 'public' : 'private';
  const namespacePrefix = namespace === undefined ? undefined : `${namespace}:`;
  const flight = singleFlight<Computed>();

  async function memorizeMiddleware(opts: CallOptions): Promise<StepResult> {
    if (opts.type !== 'query') throw notAQuery(opts.path, opts.type);
    const cache = givenCache ?? CacheManager.instance;

    let scopePart = '';
    if (scopeOf !== undefined) {
      const id = scopeOf(opts.ctx as TContext);
      if (id === null || id === undefined) return passThrough(opts);
      if (typeof id !== 'string') throw badReturn('scope', opts.path, id);
      scopePart = scopeSegment(id);
    }

    const { getRawInput } = opts;
    const rawInput = await getRawInput();
    let callPart: string;
    if (key === undefined) {
      try {
        callPart = stableKey(rawInput);
      } catch (error) {
        // An input without a stable identity (a function, a cycle…) can only be run, not cached.
        if (error instanceof UnkeyableValueError) return passThrough(opts);
        throw error;
      }
    } else {
      const given = key({ path: opts.path, input: rawInput, ctx: opts.ctx as TContext });
      if (typeof given !== 'string') throw badReturn('key', opts.path, given);
      callPart = userKeySegment(given);
    }
    const entryKey = `${namespacePrefix ?? `${opts.path}:`}${scopePart}${callPart}`;
    const ttl = expire ?? cache.expire;

    const entry = await cache.read(entryKey);
    if (entry !== undefined) {
      reportMemorized(opts, {
        source: 'hit',
        stored: true,
        expiresAt: entry.expiresAt,
        visibility,
        expire: ttl,
      });
      return { ok: true, data: entry.value, marker } as StepResult;
    }

    // tRPC hands the resolver this call's own signal and `next()` cannot replace it, so
    // the flight cannot give the resolver a signal shared by every waiting call. It lets
    // a call that aborts stop waiting at once, and when the resolver then fails, a call
    // still waiting runs it again with its own signal (see singleFlight).
    const { data, source, stored, expiresAt } = await computeThrough(
      cache,
      flight,
      entryKey,
      ttl,
      async () => {
        const result = await opts.next();
        if (!result.ok) throw result.error;
        return result.data;
      },
      opts.signal,
    );
    reportMemorized(opts, { source, stored, expiresAt, visibility, expire: ttl });
    return { ok: true, data, marker } as StepResult;
  }

  /** A call memorize lets through uncached, reported as such (so a silent call means a lost report). */
  function passThrough(opts: CallOptions): Promise<StepResult> {
    reportMemorized(opts, { source: undefined, stored: false, expiresAt: undefined, visibility, expire });
    return opts.next();
  }

  const tag: MemorizeTag = { expire, namespace, visibility, cache: givenCache };
  Object.defineProperty(memorizeMiddleware, MEMORIZE_TAG, { value: tag });
  return memorizeMiddleware as unknown as MemorizeMiddleware<TContext>;
}

function notAQuery(path: string, type: string): TrpcMemoryError {
  return new TrpcMemoryError(
    `memorize() only memorizes queries, but "${path}" is a ${type}: remove memorize() from it (to drop cached query results after a mutation, clear them with clearCache({ namespace })).`,
  );
}

function badReturn(option: 'scope' | 'key', path: string, value: unknown): TrpcMemoryError {
  const allowed = option === 'scope' ? 'a string, or null to skip the cache' : 'a string';
  return new TrpcMemoryError(
    `memorize(): the "${option}" function of "${path}" must return ${allowed}, got ${typeof value}`,
  );
}
