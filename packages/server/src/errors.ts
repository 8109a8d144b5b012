/**
 * Every error class of trpc-memory, in one place. Each has a stable `code`, and
 * {@link isTrpcMemoryError} recognises them even when they come from another copy
 * of the package (Next.js bundles, duplicated installs), where `instanceof` cannot.
 */

/**
 * The stable `code` of each error class.
 *
 * @example
 * ```ts
 * const retryable: TrpcMemoryErrorCode[] = ['REDIS_BACKEND'];
 * ```
 */
export type TrpcMemoryErrorCode =
  | 'TRPC_MEMORY_ERROR'
  | 'INVALID_OPTION'
  | 'INVALID_RETURN'
  | 'UNSUPPORTED_USE'
  | 'UNKNOWN_PROCEDURE'
  | 'MISSING_DEPENDENCY'
  | 'CACHE_NOT_INITIALIZED'
  | 'CODEC'
  | 'UNKEYABLE_VALUE'
  | 'REDIS_BACKEND'
  | 'RETRY_EXHAUSTED'
  | 'CLIENT_CLOSED'
  | 'UPSTREAM_SCHEMA';

/** Marks every error of every copy of the package (a registered symbol is the same everywhere). */
const BRAND: unique symbol = Symbol.for('@trpc-memory/server:error');

/**
 * Base class of every error trpc-memory throws on purpose, so callers can tell
 * them apart from errors of their own code. `code` says which kind it is.
 *
 * @example
 * ```ts
 * try { memorize({ expire: -1 }); } catch (error) {
 *   if (error instanceof TrpcMemoryError) console.error(error.code, error.message); // INVALID_OPTION …
 * }
 * ```
 */
export class TrpcMemoryError extends Error {
  override name = 'TrpcMemoryError';
  /** Which kind of failure this is; stable across versions. */
  readonly code: TrpcMemoryErrorCode = 'TRPC_MEMORY_ERROR';
}
Object.defineProperty(TrpcMemoryError.prototype, BRAND, { value: true });

/**
 * Whether `error` is an error of trpc-memory, from this copy of the package or any
 * other one loaded in the process (where `instanceof` fails).
 *
 * @example
 * ```ts
 * if (isTrpcMemoryError(error) && error.code === 'REDIS_BACKEND') metrics.increment('cache.redis');
 * ```
 */
export function isTrpcMemoryError(error: unknown): error is TrpcMemoryError {
  return typeof error === 'object' && error !== null && (error as { [BRAND]?: unknown })[BRAND] === true;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (typeof value === 'bigint') return `${value}n`;
  if (value !== null && typeof value === 'object') {
    try {
      return JSON.stringify(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}

/**
 * A bad option value. The message names the option, the value given and what is
 * allowed, e.g. `memorize(): option "expire" must be a positive finite number of
 * seconds, got -1`.
 *
 * @example
 * ```ts
 * expect(() => memorize({ expire: 0 })).toThrow(InvalidOptionError);
 * ```
 */
export class InvalidOptionError extends TrpcMemoryError {
  override name = 'InvalidOptionError';
  override readonly code = 'INVALID_OPTION' as const;
  constructor(
    /** Where the option was given, e.g. `'memorize()'`. */
    readonly where: string,
    /** The option's name, e.g. `'expire'`. */
    readonly option: string,
    /** The value that was given. */
    readonly value: unknown,
    /** What is allowed, e.g. `'a positive finite number of seconds'`. */
    readonly allowed: string,
  ) {
    super(`${where}: option "${option}" must be ${allowed}, got ${describe(value)}`);
  }
}

/**
 * The global `CacheManager` (or `memorize` without `{ cache }`) was used before
 * it was initialised.
 *
 * @example
 * ```ts
 * await initCache(); // once at startup, before the first request
 * ```
 */
export class CacheNotInitializedError extends TrpcMemoryError {
  override name = 'CacheNotInitializedError';
  override readonly code = 'CACHE_NOT_INITIALIZED' as const;
  constructor() {
    super(
      'The cache is not initialised: call `await initCache()` (or `CacheManager.init(new MemoryBackend())`) once at startup, before the first request.',
    );
  }
}

/**
 * A function given as an option returned what it may not: a `scope` function
 * something other than a string or `null`, a `key` function something other than
 * a string.
 *
 * @example
 * ```ts
 * memorize({ scope: (ctx) => ctx.user?.id ?? null }); // a string, or null to skip the cache
 * ```
 */
export class InvalidReturnError extends TrpcMemoryError {
  override name = 'InvalidReturnError';
  override readonly code = 'INVALID_RETURN' as const;
}

/**
 * A helper used where it does not apply: `memorize()` on a mutation or
 * subscription, `invalidates()` on a query, `lru`/`retry` decorating something
 * other than a method, the Redis backend loaded where it cannot run.
 *
 * @example
 * ```ts
 * t.procedure.use(invalidates(['post.list'])).mutation(createPost); // on the mutation, not the query
 * ```
 */
export class UnsupportedUseError extends TrpcMemoryError {
  override name = 'UnsupportedUseError';
  override readonly code = 'UNSUPPORTED_USE' as const;
}

/**
 * `invalidates()` named a path that is not a procedure of the router it was given.
 *
 * @example
 * ```ts
 * invalidates(['post.byId'], { router: () => appRouter }); // a path of appRouter
 * ```
 */
export class UnknownProcedureError extends TrpcMemoryError {
  override name = 'UnknownProcedureError';
  override readonly code = 'UNKNOWN_PROCEDURE' as const;
}

/**
 * An optional peer dependency the call needs is not installed (e.g. `ioredis`
 * for `new RedisBackend(url)`); the message says what to install.
 *
 * @example
 * ```ts
 * // npm install ioredis
 * await initCache({ backend: 'redis', url: 'redis://127.0.0.1:6379' });
 * ```
 */
export class MissingDependencyError extends TrpcMemoryError {
  override name = 'MissingDependencyError';
  override readonly code = 'MISSING_DEPENDENCY' as const;
}

/**
 * A value that cannot be cached (a function, a symbol, a class instance, a
 * circular structure) or a stored entry that cannot be read back.
 *
 * @example
 * ```ts
 * await cache.set('k', new Foo()).catch((error) => {
 *   if (error instanceof CodecError) console.warn(error.message); // names Foo
 * });
 * ```
 */
export class CodecError extends TrpcMemoryError {
  override name = 'CodecError';
  override readonly code = 'CODEC' as const;
}

/**
 * An input (or `memorizeFn` argument) that cannot be keyed: a function, a symbol,
 * an object the key cannot represent faithfully (a class instance, `Error`, a
 * boxed primitive, symbol-keyed or non-enumerable properties, array holes), or one
 * past the limits of key building (too many values, too deep or cyclic, too
 * large). `memorize` and `memorizeFn` then run the call without the cache and
 * report this error through the cache's `onError` hook (`operation: 'key'`).
 *
 * @example
 * ```ts
 * createCache(backend, {
 *   onError: ({ operation, error }) => {
 *     if (operation === 'key' && error instanceof UnkeyableValueError) metrics.increment(`uncached.${error.reason}`);
 *   },
 * });
 * ```
 */
export class UnkeyableValueError extends TrpcMemoryError {
  override name = 'UnkeyableValueError';
  override readonly code = 'UNKEYABLE_VALUE' as const;
  constructor(
    /**
     * `'type'`: a value the key cannot represent faithfully; `'nodes'`, `'depth'`,
     * `'size'`: past that limit of key building.
     */
    readonly reason: 'type' | 'nodes' | 'depth' | 'size',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Why a Redis command was not attempted or did not finish. Reported through the
 * cache's `onError` hook; reads and writes become misses, `clear()` rejects.
 *
 * @example
 * ```ts
 * createCache(backend, {
 *   onError: ({ error }) => {
 *     if (error instanceof RedisBackendError && error.reason === 'timeout') metrics.increment('redis.timeout');
 *   },
 * });
 * ```
 */
export class RedisBackendError extends TrpcMemoryError {
  override name = 'RedisBackendError';
  override readonly code = 'REDIS_BACKEND' as const;
  constructor(
    /**
     * `'timeout'`: no reply within `commandTimeout`; `'unavailable'`: the client
     * is not connected (or cooling down after a timeout), nothing was sent;
     * `'disconnected'`: the connection dropped while the command was in flight
     * (it may or may not have been applied; it is never sent again);
     * `'closed'`: the backend or its client was closed.
     */
    readonly reason: 'timeout' | 'unavailable' | 'disconnected' | 'closed',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Thrown by {@link retry} with `reraise: false` when `stop` ends the loop.
 * `cause` is the last error; `attempts` is how many calls were made.
 *
 * @example
 * ```ts
 * try { await fetchReport(); } catch (error) {
 *   if (error instanceof RetryError) console.warn(`gave up after ${error.attempts}`, error.cause);
 * }
 * ```
 */
export class RetryError extends TrpcMemoryError {
  override name = 'RetryError';
  override readonly code = 'RETRY_EXHAUSTED' as const;
  /** How many attempts were made (all failed). */
  readonly attempts: number;
  declare readonly cause: unknown;

  constructor(attempts: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`Gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${reason}`, { cause });
    this.attempts = attempts;
  }
}

/**
 * The client was used after `close()` (and not started again).
 *
 * @example
 * ```ts
 * await upstream.close();
 * await upstream.getRaw('x'); // ResilientClientClosedError
 * ```
 */
export class ResilientClientClosedError extends TrpcMemoryError {
  override name = 'ResilientClientClosedError';
  override readonly code = 'CLIENT_CLOSED' as const;
  constructor(baseUrl: string) {
    super(
      `ResilientClient${baseUrl ? ` (${baseUrl})` : ''} was closed: call start() again before making requests, or keep it open until shutdown.`,
    );
  }
}

/**
 * Upstream data did not match the schema given to `getJson`. The message names
 * each failing field; `issues` holds the schema library's own report.
 *
 * @example
 * ```ts
 * catch (error) {
 *   if (error instanceof TRPCError && error.cause instanceof UpstreamSchemaError) log(error.cause.issues);
 * }
 * ```
 */
export class UpstreamSchemaError extends TrpcMemoryError {
  override name = 'UpstreamSchemaError';
  override readonly code = 'UPSTREAM_SCHEMA' as const;
  constructor(
    /** The schema library's own report (Standard Schema issues). */
    readonly issues: readonly { readonly message: string }[],
    /** The failing fields as dotted paths, e.g. `['id', 'tags.0']`. */
    readonly fields: string[],
    what: string,
  ) {
    const details = issues.map((issue, i) => `${fields[i]}: ${issue.message}`).join('; ');
    super(`${what} does not match the schema: ${details}`);
  }
}
