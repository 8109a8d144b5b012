import type { CacheBackend } from '../backends/types.js';
import { InvalidOptionError } from '../errors.js';
import { assertExpire } from '../seconds.js';
import { attachCore, type CacheCore, checkCacheOptions } from './cache-internals.js';
import { dropFenceThen } from './fence.js';
import { namespacePart, plainKeyPart, prefixPart, userKeySegment } from './key.js';

/**
 * What failed, reported through {@link CacheOptions.onError}. Requests never fail for it.
 *
 * @example
 * ```ts
 * createCache(backend, {
 *   onError: ({ operation, key, backend, error }) => logger.warn({ operation, key, backend, error }, 'cache failure'),
 * });
 * ```
 */
export interface CacheErrorEvent {
  /**
   * The operation that failed. `'key'`: a call's input (or `memorizeFn`'s
   * arguments) could not be keyed, so the call ran without the cache; the error
   * is an `UnkeyableValueError` saying why. `'lock'`: the distributed lock of
   * `memorize({ distributed })` could not be taken (Redis down or slow), so the
   * call computed with in-process single-flight only. `'bus'`: a
   * `TieredBackend`'s invalidation bus went down (its in-process entries then
   * live at most `busLossTtl`); no call failed.
   */
  operation: 'get' | 'set' | 'delete' | 'clear' | 'encode' | 'decode' | 'key' | 'lock' | 'bus';
  /** The full key (with prefix) involved, when there is one. */
  key?: string;
  /** The backend's name, e.g. `'redis'`. */
  backend: string;
  error: unknown;
}

/**
 * A call answered with an entry past its `expire`, or a background refresh that
 * failed, reported through {@link CacheOptions.onStale} (see `memorize`'s
 * `staleWhileRevalidate` and `staleIfError`).
 *
 * @example
 * ```ts
 * createCache(backend, {
 *   onStale: ({ type, key, age, error }) => metrics.increment(`cache.stale.${type}`, { key, age, error }),
 * });
 * ```
 */
export interface CacheStaleEvent {
  /**
   * `'revalidate'`: a call got the stale value at once while one background
   * refresh runs (`staleWhileRevalidate`). `'error'`: the resolver failed and the
   * call got the stale value instead of `error` (`staleIfError`).
   * `'refresh-failed'`: a background refresh failed with `error`; the stale entry
   * stays until its window ends.
   */
  type: 'revalidate' | 'error' | 'refresh-failed';
  /** The full key (with prefix) of the entry. */
  key: string;
  /** Seconds since the entry expired. */
  age: number;
  /** The resolver's error (`'error'`, `'refresh-failed'`). */
  error?: unknown;
}

/**
 * Options of {@link createCache} and `CacheManager.init`.
 *
 * @example
 * ```ts
 * const options: CacheOptions = { prefix: 'app', expire: 60 }; // one minute by default
 * CacheManager.init(new MemoryBackend(), options);
 * ```
 */
export interface CacheOptions {
  /**
   * Prepended to every key as `${prefix}:`; `clear()` removes exactly this
   * cache's entries. Default `'trpc-memory'`.
   *
   * Caches sharing a backend (one Redis database) never reach each other's
   * entries, whatever their prefixes: a `:` inside a prefix is stored as `%3A`
   * (and `%` as `%25`), so `'app'` and `'app:users'` make the disjoint key spaces
   * `app:…` and `app%3Ausers:…`.
   *
   * @default 'trpc-memory'
   */
  prefix?: string;
  /**
   * Default time to live in seconds for `set()` and `memorize` without `expire`. Default: no expiry.
   *
   * @default no expiry
   */
  expire?: number;
  /**
   * Called when the backend or the codec fails (Redis down, timeout, corrupt
   * entry, a value that cannot be encoded). The request goes on as a miss.
   * Default: a `console.warn`, at most once every 10 s per operation.
   *
   * @default a `console.warn`, at most once every 10 s per operation
   */
  onError?: (event: CacheErrorEvent) => void;
  /**
   * Called when a call is answered with a stale entry or a background refresh
   * fails (`memorize({ staleWhileRevalidate, staleIfError })`).
   *
   * @default a `console.warn` for `'error'` and `'refresh-failed'` (an upstream
   * failure the stale value hid), at most once every 10 s per type; `'revalidate'` is silent
   */
  onStale?: (event: CacheStaleEvent) => void;
}

/**
 * Which entries `clear()` removes.
 *
 * @example
 * ```ts
 * await clearCache(); // every entry of the prefix
 * await clearCache({ namespace: 'post.byId' }); // one procedure's results
 * await CacheManager.clear({ key: 'my-key' }); // exactly one key
 * ```
 */
export interface ClearOptions {
  /**
   * Only the entries of this namespace: those `memorize` and `memorizeFn` stored
   * under it (by default the procedure path, e.g. `'post.byId'`), and the keys
   * given to `set()` that start with `${namespace}:`. Never those of another
   * namespace, even one that starts with this one followed by `:`
   * (`'post'` leaves `'post:comments'` alone).
   */
  namespace?: string;
  /**
   * Only this key: the key given to `set(key)`, or with `namespace`, the entry a
   * `memorize`/`memorizeFn` `key` function stored by returning `key` (for every
   * caller of a public procedure; a scoped entry is cleared with its namespace).
   */
  key?: string;
}

/**
 * Options of {@link Cache.set}.
 *
 * @example
 * ```ts
 * await CacheManager.set('my-key', { data: 'value' }, { expire: 10 }); // ten seconds
 * ```
 */
export interface SetOptions {
  /**
   * Time to live in seconds; omitted → the cache's default `expire`; neither → no expiry.
   *
   * @default the cache's `expire`
   */
  expire?: number;
}

/**
 * A cache: a backend plus a key prefix, a default expiry and an error hook.
 * `CacheManager` is the global default instance; make others with
 * {@link createCache} and hand them to `memorize({ cache })`.
 *
 * @example
 * ```ts
 * const cache = createCache(new MemoryBackend(), { prefix: 'reports', expire: 60 });
 * await cache.set('loaderReport:SNF', { rows: 3 });
 * await cache.get('loaderReport:SNF'); // { rows: 3 }
 * await cache.clear({ namespace: 'loaderReport' });
 * ```
 */
export class Cache {
  readonly backend: CacheBackend;
  readonly prefix: string;
  readonly expire: number | undefined;
  readonly #core: CacheCore;

  constructor(backend: CacheBackend, options: CacheOptions = {}) {
    checkCacheOptions('createCache()', options);
    const { prefix = 'trpc-memory', expire, onError, onStale } = options;
    this.backend = backend;
    this.prefix = prefix;
    this.expire = expire;
    this.#core = attachCore(this, backend, `${prefixPart(prefix)}:`, onError, onStale);
  }

  /**
   * The backend key of `key` (as given to `get`/`set`): `${prefix}:${key}`, with
   * `%` and anything UTF-8 cannot carry escaped, and a `:` of the prefix too.
   *
   * @example
   * ```ts
   * createCache(new MemoryBackend(), { prefix: 'app' }).fullKey('user:7'); // 'app:user:7'
   * ```
   */
  fullKey(key: string): string {
    return this.#core.full(plainKeyPart(key));
  }

  /**
   * The value stored under `key`, or `undefined` when absent, expired or
   * unreadable. A stored `null` comes back as `null`. Never rejects: a backend
   * failure is reported through `onError` and reads as `undefined`.
   *
   * @example
   * ```ts
   * const report = await cache.get<{ rows: number }>('loaderReport:SNF');
   * ```
   */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    return (await this.#core.read(plainKeyPart(key)))?.value as T | undefined;
  }

  /**
   * Stores `value` under `key` for `expire` seconds (default: the cache's
   * `expire`; neither → no expiry). A backend failure is reported through
   * `onError` and not thrown (the value is then simply not cached); a value that
   * cannot be cached (a function, a class instance, …) rejects with a `CodecError`.
   *
   * @example
   * ```ts
   * await cache.set('loaderReport:SNF', { rows: 3 }, { expire: 60 });
   * ```
   */
  async set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    assertExpire('cache.set()', options.expire);
    await this.#core.put(plainKeyPart(key), value, options.expire ?? this.expire);
  }

  /**
   * Removes entries: every entry of this prefix (and nothing else) with no
   * argument, one namespace with `{ namespace }`, exactly one key with `{ key }`.
   *
   * Unlike reads and writes, a failed clear rejects (after reporting through
   * `onError`): the caller asked for entries to be gone, and carrying on as if
   * they were would serve stale data.
   *
   * With `namespace`, a `memorize`/`memorizeFn` computation of that namespace
   * running meanwhile does not keep its result either (it read its data before the
   * clear): its call answers, and the next one computes again.
   *
   * @example
   * ```ts
   * await cache.clear({ namespace: 'loaderReport' });
   * ```
   */
  async clear(options: ClearOptions = {}): Promise<void> {
    const { namespace, key } = options;
    for (const [name, value] of [
      ['namespace', namespace],
      ['key', key],
    ] as const) {
      if (value !== undefined && typeof value !== 'string') {
        throw new InvalidOptionError('cache.clear()', name, value, 'a string (or omitted)');
      }
    }
    const entryKey =
      namespace === undefined
        ? key === undefined
          ? ''
          : plainKeyPart(key)
        : `${namespacePart(namespace)}:${key === undefined ? '' : userKeySegment(key)}`;
    const exact = key !== undefined;
    if (namespace === undefined) return this.#core.remove(entryKey, exact);
    // The namespace's fence first: a computation in flight then cannot keep what it stores (see fence.ts).
    await dropFenceThen(this, namespace, () => this.#core.remove(entryKey, exact));
  }
}

/**
 * Makes an independent cache over `backend`; same methods as `CacheManager`.
 *
 * @example
 * ```ts
 * const sessions = createCache(new MemoryBackend({ maxEntries: 1_000 }), { prefix: 'sessions', expire: 300 });
 * const me = t.procedure.use(memorize({ cache: sessions, scope: (ctx) => ctx.userId })).query(loadMe);
 * ```
 */
export function createCache(backend: CacheBackend, options: CacheOptions = {}): Cache {
  return new Cache(backend, options);
}
