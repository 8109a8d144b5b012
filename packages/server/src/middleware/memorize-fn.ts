import type { Cache } from '../cache/cache.js';
import { coreOf } from '../cache/cache-internals.js';
import { distributedFlight } from '../cache/distributed-flight.js';
import { distributedOf, graceOf } from '../cache/grace.js';
import { fenceStateKey, namespacePart, stableKey, tagStateKey, userKeySegment } from '../cache/key.js';
import { CacheManager } from '../cache/manager.js';
import { createMemoizer } from '../cache/memoizer.js';
import type { GuardPlan } from '../cache/tags.js';
import { InvalidOptionError, InvalidReturnError, UnkeyableValueError } from '../errors.js';
import { assertExpire } from '../seconds.js';
import {
  assertCache,
  assertKnownOptions,
  assertNamespace,
  assertTags,
  byReferenceOf,
  checkTags,
  SHARED_OPTIONS,
  type SharedMemorizeOptions,
} from './memorize-options.js';

/**
 * What a `memorizeFn` `tags` function receives, once the function has run and its
 * result is about to be stored.
 *
 * @example
 * ```ts
 * memorizeFn<[string]>({ tags: ({ input: [id] }: MemorizeFnTagsCall<[string]>) => [`user:${id}`] });
 * ```
 */
export interface MemorizeFnTagsCall<TArgs extends unknown[] = unknown[]> {
  /** The namespace, e.g. the function's name. */
  path: string;
  /** The arguments of the call. */
  input: TArgs;
  /** What the function returned. */
  data: unknown;
}

/**
 * Options of {@link memorizeFn}.
 *
 * @example
 * ```ts
 * const options: MemorizeFnOptions<[string]> = { expire: 300, namespace: 'users', key: (id) => id };
 * const loadUser = memorizeFn(options)(async (id: string) => db.users.find(id));
 * ```
 */
export interface MemorizeFnOptions<TArgs extends unknown[] = unknown[]> extends SharedMemorizeOptions {
  /**
   * Time to live in seconds (fractions allowed). Default: the cache's `expire`;
   * neither → no expiry.
   *
   * @default the cache's `expire`; neither → no expiry
   */
  expire?: number;
  /**
   * First part of the key, the unit `clear({ namespace })` drops. Default: the
   * function's name; required when the function is anonymous.
   *
   * @default the function's name; required when the function is anonymous
   */
  namespace?: string;
  /**
   * The part of the key that identifies one call, from the call's arguments.
   * Default: the canonical form of the arguments, hashed when long (key order in
   * objects does not matter). Arguments the key cannot represent faithfully (a
   * class instance, a function, …) or past the limits of key building run the
   * function without the cache, reported through the cache's `onError`.
   *
   * @default the canonical form of the arguments, hashed when long (key order in objects does not matter)
   */
  key?: (...args: TArgs) => string;
  /**
   * The cache to use. Default: the global `CacheManager`, looked up at call time.
   *
   * @default the global `CacheManager`, looked up at call time
   */
  cache?: Cache;
  /**
   * Tags stored with each entry, so that a `{ tag }` target (`invalidate`,
   * `invalidates`) drops every entry carrying it: a fixed list, or a function of
   * the call (`{ path, input: args, data }`) called when the result is stored.
   *
   * Cost: as with `memorize({ tags })`, a hit reads one more key per tag in the
   * entry's round trip on Redis (computed tags once this wrapper has seen the entry
   * of those arguments; before that, the cache's epoch vouches for them while no
   * tag was invalidated since the entry was stored).
   *
   * @default none
   */
  tags?: readonly string[] | ((call: MemorizeFnTagsCall<TArgs>) => readonly string[]);
}

const WHERE = 'memorizeFn()';
const KNOWN_OPTIONS = ['expire', 'namespace', 'key', 'cache', 'tags', ...SHARED_OPTIONS];

/**
 * Memorizes an async function's results in the cache (fastapi-memory's `@memorize`
 * on a plain function). The key is the namespace plus a stable hash of the
 * arguments; concurrent calls with the same arguments run `fn` once; errors are
 * never cached; a cache failure never fails the call. The wrapper keeps `fn`'s
 * signature. Every call gets its own copy of the value, except the one that ran
 * `fn`, which gets `fn`'s own object; calls that waited for a value the cache
 * cannot encode (a class instance…) share that object. With `byReference: true`
 * every call gets the entry's one deep-frozen value instead.
 *
 * Two functions with the same name share a namespace, hence entries: give one of
 * them a `namespace` when they compute different things.
 *
 * `this` is passed through but is not part of the key: memorize methods per instance
 * with a `key` that includes the instance's identity.
 *
 * @example
 * ```ts
 * const loadReport = memorizeFn({ expire: 300 })(async function loadReport(id: string, year: number) {
 *   return upstream.getJson(`reports/${id}`, { year });
 * });
 * await loadReport('SNF', 2024); // runs, then cached for 5 minutes
 * await clearCache({ namespace: 'loadReport' });
 * ```
 *
 * @throws {InvalidOptionError} at once for a bad option, or when `fn` is anonymous and no `namespace` is given.
 */
export function memorizeFn<TArgs extends unknown[] = unknown[]>(
  options: MemorizeFnOptions<TArgs> = {},
): <TFnArgs extends TArgs, TResult>(
  fn: (...args: TFnArgs) => Promise<TResult>,
) => (...args: TFnArgs) => Promise<TResult> {
  assertKnownOptions(WHERE, options, KNOWN_OPTIONS);
  const { expire, namespace, key, cache: givenCache, tags } = options;
  assertTags(WHERE, tags);
  const fixedTags = typeof tags === 'function' || tags === undefined ? [] : [...new Set(tags)];
  const fixedTagKeys = fixedTags.map(tagStateKey);
  const tagsOf = typeof tags === 'function' ? tags : undefined;
  assertExpire(WHERE, expire);
  const grace = graceOf(WHERE, options, expire ?? givenCache?.expire);
  const distributed = distributedOf(WHERE, options.distributed);
  assertNamespace(WHERE, namespace);
  if (key !== undefined && typeof key !== 'function') {
    throw new InvalidOptionError(WHERE, 'key', key, 'a function (...args) => string');
  }
  assertCache(WHERE, givenCache);
  const byReference = byReferenceOf(WHERE, options.byReference);

  return <TFnArgs extends TArgs, TResult>(fn: (...args: TFnArgs) => Promise<TResult>) => {
    if (typeof fn !== 'function') {
      throw new InvalidOptionError(WHERE, 'fn', fn, 'an async function to memorize');
    }
    const name = namespace ?? fn.name;
    if (name === '') {
      throw new InvalidOptionError(
        WHERE,
        'namespace',
        namespace,
        'a non-empty string when the function is anonymous (it names the cache entries)',
      );
    }
    const prefix = `${namespacePart(name)}:`;
    const fence = fenceStateKey(name);
    const memoizer = createMemoizer({
      grace,
      byReference,
      flight: distributed === undefined ? undefined : distributedFlight(distributed),
    });

    async function memorized(this: unknown, ...args: TFnArgs): Promise<TResult> {
      const cache = givenCache ?? CacheManager.instance;
      let callPart: string;
      if (key === undefined) {
        try {
          callPart = stableKey(trimTrailingUndefined(args));
        } catch (error) {
          if (!(error instanceof UnkeyableValueError)) throw error;
          coreOf(cache).report(
            'key',
            undefined,
            new UnkeyableValueError(
              error.reason,
              `memorizeFn(): "${name}" ran without the cache: ${error.message}`,
            ),
          );
          return fn.apply(this, args);
        }
      } else {
        const given = key(...args);
        if (typeof given !== 'string') {
          throw new InvalidReturnError(
            `memorizeFn(): the "key" function of "${name}" must return a string, got ${typeof given}`,
          );
        }
        callPart = userKeySegment(given);
      }
      const entryKey = prefix + callPart;

      // Tags' tokens are requested before the entry, so both travel together: the
      // fixed ones, and the computed ones the entry under this key was last seen with.
      const guards: GuardPlan | undefined =
        fixedTagKeys.length === 0 && tagsOf === undefined
          ? undefined
          : {
              keys: fixedTagKeys,
              tags: fixedTags,
              prefetched: memoizer.prefetch(cache, entryKey, fixedTagKeys, tagsOf !== undefined),
              tagsOf:
                tagsOf === undefined
                  ? undefined
                  : (data) =>
                      checkTags(WHERE, name, tagsOf({ path: name, input: args as unknown as TArgs, data })),
            };
      const { data } = await memoizer.memoize(cache, {
        key: entryKey,
        ttl: expire ?? cache.expire,
        compute: () => fn.apply(this, args),
        guards,
        fence,
      });
      return data as TResult;
    }
    // The wrapper reads as the function it wraps in stack traces and logs.
    Object.defineProperty(memorized, 'name', { value: fn.name || name });
    return memorized;
  };
}

/** `f()` and `f(undefined)` are the same call. */
function trimTrailingUndefined(args: unknown[]): unknown[] {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end--;
  return end === args.length ? args : args.slice(0, end);
}
