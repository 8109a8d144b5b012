import { LRUCache } from 'lru-cache';
import { InvalidOptionError, UnsupportedUseError } from '../errors.js';

/**
 * Options of {@link lru}.
 *
 * @example
 * ```ts
 * const byContent = lru({ maxSize: 64, key: (filter: { tag: string }) => JSON.stringify(filter) })(search);
 * ```
 */
export interface LruOptions {
  /**
   * How many results to keep; the least recently used is evicted past it. Default `128`.
   *
   * @default 128
   */
  maxSize?: number;
  /**
   * Makes the cache key from the arguments. Default: primitives by value, objects
   * and functions by identity (like Python's `functools.lru_cache`). Return a
   * string (e.g. `JSON.stringify(args)`) to key objects by content instead.
   *
   * @default primitives by value, objects and functions by identity (like Python's `functools.lru_cache`)
   */
  key?: (...args: never[]) => unknown;
}

/**
 * Statistics of a memoized function (Python's `cache_info()`).
 *
 * @example
 * ```ts
 * getConfig.cacheInfo(); // { hits: 12, misses: 2, maxSize: 128, size: 2 }
 * ```
 */
export interface LruInfo {
  hits: number;
  misses: number;
  maxSize: number;
  /** Results held now. */
  size: number;
}

/**
 * What {@link lru} adds to the function it memoizes.
 *
 * @example
 * ```ts
 * afterEach(() => getConfig.cacheClear());
 * ```
 */
export interface LruControls {
  /** Forgets every memoized result (Python's `cache_clear()`). */
  cacheClear(): void;
  /** Hits, misses and size (Python's `cache_info()`). */
  cacheInfo(): LruInfo;
}

/**
 * A memoized function: the original signature plus {@link LruControls}.
 *
 * @example
 * ```ts
 * const getConfig: Memoized<(env: string) => Config> = lru()(loadConfig);
 * getConfig('prod'); getConfig.cacheInfo();
 * ```
 */
export type Memoized<F extends (...args: never[]) => unknown> = F & LruControls;

/**
 * Memoizes a function, or decorates a method (TC39), keeping its signature.
 *
 * @example
 * ```ts
 * const memo: LruWrapper = lru({ maxSize: 32 });
 * const getRates = memo(async (base: string) => fetchRates(base));
 * ```
 */
export type LruWrapper = <F extends (...args: never[]) => unknown>(
  fn: F,
  context?: ClassMethodDecoratorContext,
) => Memoized<F>;

/** A result in the cache; a box because `undefined` is a valid result. */
interface Box {
  value: unknown;
}

/**
 * Identity numbers for objects and symbols used as arguments, held weakly so that
 * no argument is kept alive by having been one. A symbol from `Symbol.for()` cannot
 * be held weakly, and needs no number: its registry key is its identity.
 */
const identities = new WeakMap<WeakKey, number>();
let nextIdentity = 0;

function identity(value: WeakKey): number {
  let id = identities.get(value);
  if (id === undefined) {
    id = ++nextIdentity;
    identities.set(value, id);
  }
  return id;
}

function symbolFragment(value: symbol): string {
  const registered = Symbol.keyFor(value);
  return registered === undefined ? `y${identity(value)}` : `Y${JSON.stringify(registered)}`;
}

/** One argument as a key fragment: the type tag keeps `1` apart from `'1'`. */
function fragment(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `s${JSON.stringify(value)}`;
    case 'number':
      // 0 and -0 are equal arguments (they hash alike in Python too).
      return `n${value === 0 ? 0 : value}`;
    case 'bigint':
      return `b${value}`;
    case 'boolean':
      return value ? 't' : 'f';
    case 'undefined':
      return 'u';
    case 'symbol':
      return symbolFragment(value);
    default:
      return value === null ? 'l' : `o${identity(value as object)}`;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** @internal */
export function lruWrapper(where: string, options: LruOptions): LruWrapper {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(where, 'options', options, 'an options object (or omitted)');
  }
  const { maxSize = 128, key } = options;
  if (!Number.isInteger(maxSize) || maxSize < 1) {
    throw new InvalidOptionError(where, 'maxSize', maxSize, 'a whole number of results ≥ 1');
  }
  if (key !== undefined && typeof key !== 'function') {
    throw new InvalidOptionError(where, 'key', key, 'a function of the arguments (or omitted)');
  }
  const makeKey = key as ((...args: unknown[]) => unknown) | undefined;

  return function wrap<F extends (...args: never[]) => unknown>(
    fn: F,
    context?: ClassMethodDecoratorContext,
  ): Memoized<F> {
    if (context !== undefined && context.kind !== 'method') {
      throw new UnsupportedUseError(`${where} decorates methods only, not a ${String(context.kind)}`);
    }
    if (typeof fn !== 'function') {
      throw new InvalidOptionError(where, 'fn', fn, 'a function or a class method to memoize');
    }
    const cache = new LRUCache<string, Box>({ max: maxSize });
    let hits = 0;
    let misses = 0;

    const memoized = function (this: unknown, ...args: Parameters<F>): ReturnType<F> {
      // A method's results belong to its instance, as with Python's `self`.
      const self = this === undefined || this === globalThis ? '' : `${fragment(this)}|`;
      const id = self + (makeKey ? fragment(makeKey(...args)) : args.map(fragment).join(','));
      const cached = cache.get(id);
      if (cached !== undefined) {
        hits++;
        return cached.value as ReturnType<F>;
      }
      misses++;
      const value = fn.apply(this, args) as ReturnType<F>;
      const box: Box = { value };
      cache.set(id, box);
      if (isThenable(value)) {
        // A failure is not a result: drop it so the next call tries again (unless
        // the entry was replaced meanwhile).
        value.then(undefined, () => {
          if (cache.peek(id) === box) cache.delete(id);
        });
      }
      return value;
    } as unknown as Memoized<F>;

    memoized.cacheClear = () => {
      cache.clear();
      hits = 0;
      misses = 0;
    };
    memoized.cacheInfo = () => ({ hits, misses, maxSize, size: cache.size });
    Object.defineProperty(memoized, 'name', { value: fn.name, configurable: true });
    return memoized;
  };
}

/**
 * Memoizes a synchronous or async function by its arguments, keeping at most
 * `maxSize` results and evicting the least recently used (fastapi-memory's
 * `fm_lru`, Python's `functools.lru_cache`). Arguments are compared like
 * Python's: primitives by value, objects by identity (see `key`). An async
 * function's promise is shared by concurrent callers; a rejected promise is
 * dropped, so the next call tries again. A throwing call is not cached. Also
 * works as a standard (TC39) method decorator, caching per instance.
 *
 * @example
 * ```ts
 * const getConfig = lru({ maxSize: 32 })((env: string) => loadConfig(env));
 * getConfig('prod'); // runs loadConfig
 * getConfig('prod'); // memoized
 * getConfig.cacheInfo(); // { hits: 1, misses: 1, maxSize: 32, size: 1 }
 *
 * class Geo {
 *   @lru({ maxSize: 1_000 })
 *   async country(ip: string) { return lookup(ip); }
 * }
 * ```
 */
export function lru(options: LruOptions = {}): LruWrapper {
  return lruWrapper('lru()', options);
}
