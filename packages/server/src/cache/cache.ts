import type { CacheBackend } from '../backends/types.js';
import { InvalidOptionError } from '../errors.js';
import { type DecodedEntry, encodeEntry } from './codec.js';
import { DecodeMemo } from './decode-memo.js';
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
   * is an `UnkeyableValueError` saying why.
   */
  operation: 'get' | 'set' | 'delete' | 'clear' | 'encode' | 'decode' | 'key';
  /** The full key (with prefix) involved, when there is one. */
  key?: string;
  /** The backend's name, e.g. `'redis'`. */
  backend: string;
  error: unknown;
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
   */
  prefix?: string;
  /** Default time to live in seconds for `set()` and `memorize` without `expire`. Default: no expiry. */
  expire?: number;
  /**
   * Called when the backend or the codec fails (Redis down, timeout, corrupt
   * entry, a value that cannot be encoded). The request goes on as a miss.
   * Default: a `console.warn`, at most once every 10 s per operation.
   */
  onError?: (event: CacheErrorEvent) => void;
}

/** @internal What {@link Cache.store} did with a value. */
export interface StoredEntry {
  /** The encoded entry, as handed to the backend. */
  raw: string;
  /** Absolute expiry in epoch ms; `undefined` for none. */
  expiresAt: number | undefined;
  /** `false` when the backend failed to store it. */
  stored: boolean;
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
  /** Time to live in seconds; omitted → the cache's default `expire`; neither → no expiry. */
  expire?: number;
}

export function assertExpire(where: string, expire: unknown): asserts expire is number | undefined {
  if (expire === undefined) return;
  if (typeof expire !== 'number' || !Number.isFinite(expire) || expire <= 0) {
    throw new InvalidOptionError(where, 'expire', expire, 'a positive finite number of seconds (or omitted)');
  }
}

/** @internal Throws an `InvalidOptionError` for a bad prefix, expire or onError. */
export function checkCacheOptions(where: string, options: CacheOptions): void {
  const { prefix, expire, onError } = options;
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length === 0)) {
    throw new InvalidOptionError(where, 'prefix', prefix, 'a non-empty string');
  }
  assertExpire(where, expire);
  if (onError !== undefined && typeof onError !== 'function') {
    throw new InvalidOptionError(where, 'onError', onError, 'a function (or omitted)');
  }
}

/** Absolute expiry in epoch ms of an entry stored now for `expire` seconds; `undefined` for none. */
function expiresAtOf(expire: number | undefined): number | undefined {
  return expire === undefined ? undefined : Date.now() + expire * 1000;
}

function defaultOnError(): (event: CacheErrorEvent) => void {
  const last = new Map<string, number>();
  return (event) => {
    const now = Date.now();
    if ((last.get(event.operation) ?? 0) + 10_000 > now) return;
    last.set(event.operation, now);
    const reason = event.error instanceof Error ? event.error.message : String(event.error);
    console.warn(
      event.operation === 'key'
        ? `[trpc-memory] a call ran without the cache: ${reason}`
        : `[trpc-memory] cache ${event.operation} failed on ${event.backend} (served as a miss): ${reason}`,
    );
  };
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
  readonly #onError: (event: CacheErrorEvent) => void;
  /** Decoded forms of recently read entries (the hit path); emptied by `clear()`. */
  readonly #memo = new DecodeMemo();
  /** `${prefix}:` as it is in the backend (escaped, see the key module). */
  readonly #head: string;

  constructor(backend: CacheBackend, options: CacheOptions = {}) {
    checkCacheOptions('createCache()', options);
    const { prefix = 'trpc-memory', expire, onError } = options;
    this.backend = backend;
    this.prefix = prefix;
    this.expire = expire;
    this.#onError = onError ?? defaultOnError();
    this.#head = `${prefixPart(prefix)}:`;
  }

  /**
   * The backend key of `key` (as given to `get`/`set`): `${prefix}:${key}`, with
   * `%` and anything UTF-8 cannot carry escaped, and a `:` of the prefix too.
   */
  fullKey(key: string): string {
    return this.#head + plainKeyPart(key);
  }

  /**
   * The value stored under `key`, or `undefined` when absent, expired or
   * unreadable. A stored `null` comes back as `null`. Never rejects: a backend
   * failure is reported through `onError` and reads as `undefined`.
   */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    return (await this.read(plainKeyPart(key)))?.value as T | undefined;
  }

  /**
   * Stores `value` under `key` for `expire` seconds (default: the cache's
   * `expire`; neither → no expiry). A backend failure is reported through
   * `onError` and not thrown (the value is then simply not cached); a value that
   * cannot be cached (a function, a class instance, …) rejects with a `CodecError`.
   */
  async set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    assertExpire('cache.set()', options.expire);
    const expire = options.expire ?? this.expire;
    const expiresAt = expiresAtOf(expire);
    await this.#store(this.#full(plainKeyPart(key)), encodeEntry(value, expiresAt), expire);
  }

  /**
   * Removes entries: every entry of this prefix (and nothing else) with no
   * argument, one namespace with `{ namespace }`, exactly one key with `{ key }`.
   *
   * Unlike reads and writes, a failed clear rejects (after reporting through
   * `onError`): the caller asked for entries to be gone, and carrying on as if
   * they were would serve stale data.
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
    let target: string;
    if (namespace === undefined) target = this.#full(key === undefined ? '' : plainKeyPart(key));
    else target = this.#full(`${namespacePart(namespace)}:${key === undefined ? '' : userKeySegment(key)}`);
    // The memo only ever serves a string equal to the one stored, so emptying it is
    // not needed for correctness: it lets go of what was cleared.
    this.#memo.clear();
    try {
      if (key !== undefined) await this.backend.delete(target);
      else await this.backend.deleteByPrefix(target);
    } catch (error) {
      this.report('clear', target, error);
      throw error;
    }
  }

  /** The backend key of an entry key built by the key module (already escaped). */
  #full(entryKey: string): string {
    return this.#head + entryKey;
  }

  /**
   * @internal The decoded entry under `key` with its absolute expiry, or
   * `undefined`. Never throws: failures are reported and read as a miss.
   * `key` here and in the other internal methods is an entry key made by the key
   * module (`namespace:…`, already escaped), not a key as given to `get`/`set`.
   */
  async read(key: string): Promise<DecodedEntry | undefined> {
    const full = this.#full(key);
    const got = this.#get(full);
    // Synchronous backends (memory) answer without a promise: skip the extra tick.
    const raw = typeof got === 'string' || got === undefined ? got : await got;
    return raw === undefined ? undefined : this.#live(full, raw);
  }

  /**
   * @internal Like {@link read}, plus the stored string, from which
   * {@link decodeStored} makes further copies without another backend read.
   */
  async readStored(key: string): Promise<{ entry: DecodedEntry; raw: string } | undefined> {
    const full = this.#full(key);
    const got = this.#get(full);
    const raw = typeof got === 'string' || got === undefined ? got : await got;
    const entry = raw === undefined ? undefined : this.#live(full, raw);
    return entry === undefined ? undefined : { entry, raw: raw as string };
  }

  /** The backend's string under `full`, or `undefined` when absent or when the read failed (reported). */
  #get(full: string): string | undefined | Promise<string | undefined> {
    let pending: ReturnType<CacheBackend['get']> | null;
    try {
      pending = this.backend.get(full);
    } catch (error) {
      this.report('get', full, error);
      return undefined;
    }
    // `?? undefined`: a custom backend may answer null.
    if (typeof pending === 'string' || pending == null) return pending ?? undefined;
    return pending.then(
      (raw) => raw ?? undefined,
      (error: unknown) => {
        this.report('get', full, error);
        return undefined;
      },
    );
  }

  /** The decoded entry unless it has expired; `undefined` (reported) when it cannot be decoded. */
  #live(full: string, raw: string): DecodedEntry | undefined {
    const entry = this.#decode(full, raw);
    if (entry === undefined || (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()))
      return undefined;
    return entry;
  }

  /**
   * @internal A fresh decoded copy of the entry stored under `key` as `raw` (from
   * {@link readStored} or {@link store}), or `undefined` (reported) when it cannot
   * be decoded. Does not check the expiry.
   */
  decodeStored(key: string, raw: string): DecodedEntry | undefined {
    return this.#decode(this.#full(key), raw);
  }

  #decode(full: string, raw: string): DecodedEntry | undefined {
    try {
      return this.#memo.decode(full, raw);
    } catch (error) {
      this.report('decode', full, error);
      return undefined;
    }
  }

  /**
   * @internal Stores `value` for `expire` seconds; returns the absolute expiry
   * (epoch ms, `undefined` for none) or `null` when it was not stored (the
   * value cannot be encoded, or the backend failed). Never throws.
   */
  async write(key: string, value: unknown, expire: number | undefined): Promise<number | undefined | null> {
    const written = await this.store(key, value, expire);
    return written?.stored === true ? written.expiresAt : null;
  }

  /**
   * @internal Like {@link write}, with the encoded entry: `raw` (for
   * {@link decodeStored}), the absolute expiry, and whether the backend took it
   * (`stored: false` when it failed). `undefined` when the value cannot be
   * encoded. Never throws; failures are reported.
   */
  async store(key: string, value: unknown, expire: number | undefined): Promise<StoredEntry | undefined> {
    const full = this.#full(key);
    const expiresAt = expiresAtOf(expire);
    let raw: string;
    try {
      raw = encodeEntry(value, expiresAt);
    } catch (error) {
      this.report('encode', full, error);
      return undefined;
    }
    return { raw, expiresAt, stored: await this.#store(full, raw, expire) };
  }

  /** Hands an encoded entry to the backend; `false` (reported) when it failed. */
  async #store(full: string, raw: string, expire: number | undefined): Promise<boolean> {
    try {
      await this.backend.set(full, raw, expire);
      return true;
    } catch (error) {
      this.report('set', full, error);
      return false;
    }
  }

  /** @internal Reports a failure through the `onError` hook (which must not throw). */
  report(operation: CacheErrorEvent['operation'], key: string | undefined, error: unknown): void {
    try {
      this.#onError({ operation, ...(key === undefined ? {} : { key }), backend: this.backend.name, error });
    } catch {
      // A throwing hook must not turn a cache failure into a failed request.
    }
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
