/**
 * Base class of every error trpc-memory throws on purpose, so callers can tell
 * them apart from errors of their own code.
 *
 * @example
 * ```ts
 * try { memorize({ expire: -1 }); } catch (error) {
 *   if (error instanceof TrpcMemoryError) console.error(error.message);
 * }
 * ```
 */
export class TrpcMemoryError extends Error {
  override name = 'TrpcMemoryError';
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
  constructor() {
    super(
      'The cache is not initialised: call `await initCache()` (or `CacheManager.init(new MemoryBackend())`) once at startup, before the first request.',
    );
  }
}
