/**
 * What a {@link Cache} does below its public methods: reading, decoding, encoding
 * and storing entries, and reporting failures. The memoizer core and the cache's
 * own `get`/`set`/`clear` call it; users never see it.
 *
 * Each `Cache` holds one {@link CacheCore} (its private state: backend, escaped
 * prefix, decode memo, error hook) and carries it under a *registered* symbol
 * ({@link CACHE_CORE}), which is also the cache's brand: a cache made by another
 * loaded copy of the package carries its core under the same symbol, so
 * `memorize({ cache })` of one copy works with a cache of the other, and
 * {@link isCache} recognises both. The symbol is versioned: a copy whose core
 * speaks another protocol carries another symbol and is refused at construction
 * time rather than failing every request.
 *
 * Keys given to the methods here are *entry keys* made by the key module
 * (`namespace:…`, already escaped), not keys as given to `get`/`set`.
 *
 * Not exported from the package entry.
 */
import type { CacheBackend } from '../backends/types.js';
import { InvalidOptionError } from '../errors.js';
import { assertExpire } from '../seconds.js';
import type { Cache, CacheErrorEvent, CacheOptions, CacheStaleEvent } from './cache.js';
import { now } from './clock.js';
import { type DecodedEntry, type EntryGuards, encodeEntry } from './codec.js';
import { DecodeMemo } from './decode-memo.js';

/** The registered symbol under which a cache carries its {@link CacheCore}; its brand. */
export const CACHE_CORE: unique symbol = Symbol.for('trpc-memory.cache-core.v1') as never;

/** What {@link CacheCore.store} did with a value. */
export interface StoredEntry {
  /** The encoded entry, as handed to the backend. */
  raw: string;
  /** Absolute expiry in epoch ms; `undefined` for none. */
  expiresAt: number | undefined;
  /** `false` when the backend failed to store it. */
  stored: boolean;
}

/** Throws an `InvalidOptionError` for a bad prefix, expire or onError. */
export function checkCacheOptions(where: string, options: CacheOptions): void {
  const { prefix, expire, onError, onStale } = options;
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length === 0)) {
    throw new InvalidOptionError(where, 'prefix', prefix, 'a non-empty string');
  }
  assertExpire(where, expire);
  if (onError !== undefined && typeof onError !== 'function') {
    throw new InvalidOptionError(where, 'onError', onError, 'a function (or omitted)');
  }
  if (onStale !== undefined && typeof onStale !== 'function') {
    throw new InvalidOptionError(where, 'onStale', onStale, 'a function (or omitted)');
  }
}

/** Absolute expiry in epoch ms of an entry stored now for `expire` seconds; `undefined` for none. */
function expiresAtOf(expire: number | undefined): number | undefined {
  return expire === undefined ? undefined : now() + expire * 1000;
}

function defaultOnError(): (event: CacheErrorEvent) => void {
  const last = new Map<string, number>();
  return (event) => {
    const at = now();
    if ((last.get(event.operation) ?? 0) + 10_000 > at) return;
    last.set(event.operation, at);
    const reason = event.error instanceof Error ? event.error.message : String(event.error);
    let message = `[trpc-memory] cache ${event.operation} failed on ${event.backend} (served as a miss): ${reason}`;
    if (event.operation === 'key') message = `[trpc-memory] a call ran without the cache: ${reason}`;
    if (event.operation === 'bus') {
      message = `[trpc-memory] the ${event.backend} backend's invalidation bus is down (in-process entries now live at most busLossTtl): ${reason}`;
    }
    console.warn(message);
  };
}

function defaultOnStale(): (event: CacheStaleEvent) => void {
  const last = new Map<string, number>();
  return (event) => {
    if (event.type === 'revalidate') return;
    const at = now();
    if ((last.get(event.type) ?? 0) + 10_000 > at) return;
    last.set(event.type, at);
    const reason = event.error instanceof Error ? event.error.message : String(event.error);
    console.warn(
      event.type === 'error'
        ? `[trpc-memory] served a stale value (${event.age.toFixed(1)} s past expiry) because the resolver failed: ${reason}`
        : `[trpc-memory] a background refresh failed (the stale value stays within its window): ${reason}`,
    );
  };
}

/** The private state and the entry operations of one {@link Cache}. */
export class CacheCore {
  readonly backend: CacheBackend;
  /** `${prefix}:` as it is in the backend (escaped, see the key module). */
  readonly head: string;
  readonly #onError: (event: CacheErrorEvent) => void;
  readonly #onStale: (event: CacheStaleEvent) => void;
  /** Decoded forms of recently read entries (the hit path); emptied by `remove()`. */
  readonly #memo = new DecodeMemo();
  /** Handed to a backend that reports failures of its own (held here: the backend holds it weakly). */
  readonly #reportBackground = (error: unknown) => this.report('bus', undefined, error);

  constructor(
    backend: CacheBackend,
    head: string,
    onError: ((event: CacheErrorEvent) => void) | undefined,
    onStale?: ((event: CacheStaleEvent) => void) | undefined,
  ) {
    this.backend = backend;
    this.head = head;
    this.#onError = onError ?? defaultOnError();
    this.#onStale = onStale ?? defaultOnStale();
    backend.reportTo?.(this.#reportBackground);
  }

  /** The backend key of an entry key. */
  full(entryKey: string): string {
    return this.head + entryKey;
  }

  /**
   * The decoded entry under `key` with its absolute expiry, or `undefined`.
   * Never throws: failures are reported and read as a miss.
   */
  async read(key: string): Promise<DecodedEntry | undefined> {
    return this.readAt(this.head + key, false);
  }

  /**
   * {@link read} by backend key (`full(key)`: a caller that keeps it saves building
   * and hashing it per call), answering without a promise when the backend does
   * (memory): the hit path. With `shared`, a kept entry's value is one deep-frozen
   * object for every shared read (see the decode memo).
   */
  readAt(full: string, shared: boolean): DecodedEntry | undefined | Promise<DecodedEntry | undefined> {
    const got = this.#get(full);
    if (typeof got === 'string') return this.#live(full, got, shared);
    if (got === undefined) return undefined;
    // A native promise whatever the backend's thenable, so callers can tell it from an entry.
    return Promise.resolve(got).then((raw) =>
      raw === undefined ? undefined : this.#live(full, raw, shared),
    );
  }

  /** Like {@link read}, plus the stored string, from which {@link decodeStored} makes further copies. */
  async readStored(key: string, shared = false): Promise<{ entry: DecodedEntry; raw: string } | undefined> {
    const full = this.head + key;
    const got = this.#get(full);
    const raw = typeof got === 'string' || got === undefined ? got : await got;
    const entry = raw === undefined ? undefined : this.#live(full, raw, shared);
    return entry === undefined ? undefined : { entry, raw: raw as string };
  }

  /**
   * The decoded entry under `key` whether or not it is past its `expiresAt` (the
   * backend keeps entries with grace windows longer), or `undefined`. Never throws.
   */
  async readAny(key: string, shared = false): Promise<DecodedEntry | undefined> {
    const full = this.head + key;
    const got = this.#get(full);
    const raw = typeof got === 'string' || got === undefined ? got : await got;
    return raw === undefined ? undefined : this.#decode(full, raw, shared);
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
  #live(full: string, raw: string, shared: boolean): DecodedEntry | undefined {
    const entry = this.#decode(full, raw, shared);
    if (entry === undefined || (entry.expiresAt !== undefined && entry.expiresAt <= now())) return undefined;
    return entry;
  }

  /**
   * A fresh decoded copy of the entry stored under `key` as `raw` (from
   * {@link readStored} or {@link store}), or `undefined` (reported) when it cannot
   * be decoded (deep-frozen and shared with `shared`, see {@link readAt}). Does not
   * check the expiry.
   */
  decodeStored(key: string, raw: string, shared = false): DecodedEntry | undefined {
    return this.#decode(this.head + key, raw, shared);
  }

  #decode(full: string, raw: string, shared: boolean): DecodedEntry | undefined {
    try {
      return this.#memo.decode(full, raw, shared);
    } catch (error) {
      this.report('decode', full, error);
      return undefined;
    }
  }

  /**
   * Stores `value` for `expire` seconds; returns the absolute expiry (epoch ms,
   * `undefined` for none) or `null` when it was not stored (the value cannot be
   * encoded, or the backend failed). Never throws.
   */
  async write(key: string, value: unknown, expire: number | undefined): Promise<number | undefined | null> {
    const written = await this.store(key, value, expire);
    return written?.stored === true ? written.expiresAt : null;
  }

  /**
   * Like {@link write}, with the encoded entry: `raw` (for {@link decodeStored}),
   * the absolute expiry, and whether the backend took it (`stored: false` when it
   * failed). `undefined` when the value cannot be encoded. Never throws; failures
   * are reported. `guarded`: the tags and guards the entry is stored with (see `tags.ts`).
   */
  async store(
    key: string,
    value: unknown,
    expire: number | undefined,
    keep = 0,
    guarded?: EntryGuards,
  ): Promise<StoredEntry | undefined> {
    const entry = this.encode(key, value, expire, guarded);
    if (entry === undefined) return undefined;
    // The entry says when it stops being fresh; the backend keeps it `keep` seconds longer (grace).
    const ttl = expire === undefined ? undefined : expire + keep;
    entry.stored = await this.#put(this.head + key, entry.raw, ttl);
    return entry;
  }

  /**
   * The entry {@link store} would hand the backend, not stored (`stored: false`):
   * what calls waiting for a computation decode their copies from when its result
   * must not be kept. `undefined` (reported) when the value cannot be encoded.
   */
  encode(
    key: string,
    value: unknown,
    expire: number | undefined,
    guarded?: EntryGuards,
  ): StoredEntry | undefined {
    const expiresAt = expiresAtOf(expire);
    try {
      return { raw: encodeEntry(value, expiresAt, guarded), expiresAt, stored: false };
    } catch (error) {
      this.report('encode', this.head + key, error);
      return undefined;
    }
  }

  /**
   * `Cache.set`: like {@link store}, but a value that cannot be encoded throws its
   * `CodecError` (the caller asked for exactly this value to be stored).
   */
  async put(key: string, value: unknown, expire: number | undefined): Promise<void> {
    await this.#put(this.head + key, encodeEntry(value, expiresAtOf(expire)), expire);
  }

  /** Hands an encoded entry to the backend; `false` (reported) when it failed. */
  async #put(full: string, raw: string, expire: number | undefined): Promise<boolean> {
    try {
      await this.backend.set(full, raw, expire);
      return true;
    } catch (error) {
      this.report('set', full, error);
      return false;
    }
  }

  /**
   * `Cache.clear`: deletes the entry `key` (`exact`) or every entry whose key
   * starts with it. Rejects (after reporting) when the backend fails.
   */
  async remove(key: string, exact: boolean): Promise<void> {
    const target = this.head + key;
    // The memo only ever serves a string equal to the one stored, so emptying it is
    // not needed for correctness: it lets go of what was cleared.
    this.#memo.clear();
    try {
      if (exact) await this.backend.delete(target);
      else await this.backend.deleteByPrefix(target);
    } catch (error) {
      this.report('clear', target, error);
      throw error;
    }
  }

  /** Reports a stale-served call or a failed refresh through the `onStale` hook (which must not throw). */
  reportStale(type: CacheStaleEvent['type'], key: string, age: number, error?: unknown): void {
    try {
      this.#onStale({ type, key: this.head + key, age, ...(error === undefined ? {} : { error }) });
    } catch {
      // A throwing hook must not fail the call it describes.
    }
  }

  /** Reports a failure through the `onError` hook (which must not throw). */
  report(operation: CacheErrorEvent['operation'], key: string | undefined, error: unknown): void {
    try {
      this.#onError({ operation, ...(key === undefined ? {} : { key }), backend: this.backend.name, error });
    } catch {
      // A throwing hook must not turn a cache failure into a failed request.
    }
  }
}

/**
 * The store behind a tier: the `l2` of a `TieredBackend` (the Redis every instance
 * shares), else `backend` itself. What it answers is what every instance sees now,
 * whereas a tier's in-process copy hears of another instance's write only through
 * its bus. Found by shape, so neither the cache nor its public types depend on the
 * tiered backend.
 */
export function storeBehind(backend: CacheBackend): CacheBackend {
  const l2 = (backend as { readonly l2?: CacheBackend }).l2;
  return l2 !== undefined && typeof l2.get === 'function' ? l2 : backend;
}

/** Makes the core of `cache` and carries it under {@link CACHE_CORE}. */
export function attachCore(
  cache: Cache,
  backend: CacheBackend,
  head: string,
  onError: ((event: CacheErrorEvent) => void) | undefined,
  onStale?: ((event: CacheStaleEvent) => void) | undefined,
): CacheCore {
  const core = new CacheCore(backend, head, onError, onStale);
  Object.defineProperty(cache, CACHE_CORE, { value: core });
  return core;
}

/** The core of `cache` (of this copy of the package or of another one). */
export function coreOf(cache: Cache): CacheCore {
  return (cache as unknown as { [CACHE_CORE]: CacheCore })[CACHE_CORE];
}

/** Whether `value` is a cache made by `createCache()` of this or another loaded copy of the package. */
export function isCache(value: unknown): value is Cache {
  if (value === null || typeof value !== 'object') return false;
  const core = (value as { [CACHE_CORE]?: unknown })[CACHE_CORE];
  return core !== null && typeof core === 'object';
}
