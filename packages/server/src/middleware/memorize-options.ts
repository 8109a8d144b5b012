import { Cache } from '../cache/cache.js';
import { isCache } from '../cache/cache-internals.js';
import { InvalidOptionError, InvalidReturnError } from '../errors.js';

/**
 * Settings of distributed single-flight (`memorize({ distributed })`), in seconds.
 *
 * @example
 * ```ts
 * memorize({ expire: 60, distributed: { lockTtl: 30, poll: 0.5 } }); // a resolver that may take 20 s
 * ```
 */
export interface DistributedOptions {
  /**
   * How long a process holds a key's lock at most: a holder that crashed, or
   * computes for longer, blocks the other processes no longer than this (the next
   * one then computes). Set it above the resolver's usual time.
   *
   * @default 10
   */
  lockTtl?: number;
  /**
   * How long a waiting process waits for the holder's announcement (Redis pub/sub)
   * before looking for the value again: the bound when an announcement is lost.
   *
   * @default 0.2
   */
  poll?: number;
}

/**
 * Options `memorize` and `memorizeFn` share: grace windows (API.md §7),
 * distributed single-flight (seconds, like `expire`), and by-reference hits.
 *
 * @example
 * ```ts
 * const resilient: SharedMemorizeOptions = { staleWhileRevalidate: 30, staleIfError: 600, distributed: true };
 * t.procedure.use(memorize({ expire: 60, ...resilient })).query(loadReport);
 * ```
 */
export interface SharedMemorizeOptions {
  /**
   * Seconds after an entry expired during which a call gets the expired (stale)
   * value at once, at hit latency, while **one** background refresh replaces it
   * (single-flight; across processes with `distributed`). The next call after the
   * refresh stored gets the new value. A refresh that fails leaves the stale entry
   * (still bounded by this window) and is reported through the cache's `onStale`.
   * Needs `expire`.
   *
   * @default undefined (an expired entry is a miss)
   */
  staleWhileRevalidate?: number;
  /**
   * Seconds after an entry expired during which a call whose resolver fails gets
   * the stale value instead of the error, reported through the cache's `onStale`.
   * Only for failures of the upstream or the server: any error that is not a
   * `TRPCError`, and a `TRPCError` whose code maps to HTTP 5xx
   * (`INTERNAL_SERVER_ERROR`, `BAD_GATEWAY`, `SERVICE_UNAVAILABLE`,
   * `GATEWAY_TIMEOUT`…). A 4xx `TRPCError` (`NOT_FOUND`, `UNAUTHORIZED`…) is never
   * masked; past the window the error is thrown. Needs `expire`.
   *
   * @default undefined (errors are thrown)
   */
  staleIfError?: number;
  /**
   * Distributed single-flight: concurrent misses of one key run the resolver
   * **once across every process** sharing the cache's Redis (a lock per key; the
   * others wait for the value and read it), not once per process. `true` for the
   * defaults, or {@link DistributedOptions}. Needs a backend with a lock
   * (`RedisBackend`, or a tiered backend over one); elsewhere, and while Redis is
   * unreachable, single-flight stays within each process. Costs two Redis round
   * trips per miss (lock, release); hits are unchanged.
   *
   * @default false
   */
  distributed?: boolean | DistributedOptions;
  /**
   * Hand every caller the one cached value by reference instead of a copy of its
   * own: a hit then costs no copy and makes no garbage. The value is deep-frozen
   * when it is stored, so a caller that mutates it gets a `TypeError` (in
   * strict-mode code, which ES modules and TypeScript output are) instead of
   * changing what every other caller gets. The call whose resolver (or function)
   * ran gets the same frozen value, so code behaves alike on a miss and on a hit.
   *
   * Use it for results nobody mutates. Values holding a `Map`, `Set` or `Date` are
   * still decoded per call (freezing cannot stop `map.set()`), frozen too.
   *
   * @default false
   * @example
   * ```ts
   * t.procedure.use(memorize({ expire: 300, byReference: true })).query(loadCatalog);
   * ```
   */
  byReference?: boolean;
}

/** The names of {@link SharedMemorizeOptions}, for `assertKnownOptions`. */
export const SHARED_OPTIONS = ['staleWhileRevalidate', 'staleIfError', 'distributed', 'byReference'];

/** Rejects option names the function does not know (a `ttl` meant as `expire`, say). */
export function assertKnownOptions(where: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError(
      where,
      'options',
      options,
      `an object with ${known.join(', ')} (or omitted)`,
    );
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      const value = (options as Record<string, unknown>)[name];
      throw new InvalidOptionError(where, name, value, `left out: the known options are ${known.join(', ')}`);
    }
  }
}

/** `byReference`, checked: `false` when omitted. */
export function byReferenceOf(where: string, byReference: unknown): boolean {
  if (byReference === undefined) return false;
  if (typeof byReference !== 'boolean') {
    throw new InvalidOptionError(where, 'byReference', byReference, 'true or false (or omitted)');
  }
  return byReference;
}

export function assertNamespace(where: string, namespace: unknown): asserts namespace is string | undefined {
  if (namespace === undefined) return;
  if (typeof namespace !== 'string' || namespace.length === 0) {
    throw new InvalidOptionError(where, 'namespace', namespace, 'a non-empty string (or omitted)');
  }
}

/**
 * Accepts a `Cache` of this copy of the package or of another loaded copy (it
 * carries the same registered-symbol brand, see `cache-internals.ts`), so two
 * copies of the package still work together, while anything else is refused here
 * rather than failing every request.
 */
export function assertCache(where: string, cache: unknown): void {
  if (cache === undefined) return;
  if (!(cache instanceof Cache) && !isCache(cache)) {
    throw new InvalidOptionError(where, 'cache', cache, 'a cache made by createCache() (or omitted)');
  }
}

function isTagList(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((tag) => typeof tag === 'string' && tag.length > 0);
}

/** `tags`: a list of non-empty strings, or a function returning one. */
export function assertTags(where: string, tags: unknown): void {
  if (tags === undefined || typeof tags === 'function' || isTagList(tags)) return;
  throw new InvalidOptionError(
    where,
    'tags',
    tags,
    "an array of non-empty strings such as ['post:1'], or a function of the call returning one (or omitted)",
  );
}

/** What a `tags` function returned, deduplicated; an `InvalidReturnError` when it is not a list of tags. */
export function checkTags(where: string, path: string, tags: unknown): readonly string[] {
  if (!isTagList(tags)) {
    throw new InvalidReturnError(
      `${where}: the "tags" function of "${path}" must return an array of non-empty strings, got ${Array.isArray(tags) ? 'an array with other items' : typeof tags}`,
    );
  }
  return [...new Set(tags)];
}
