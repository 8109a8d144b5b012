import { LRUCache } from 'lru-cache';
import { clock } from '../cache/clock.js';
import { InvalidOptionError } from '../errors.js';
import { assertSeconds } from '../seconds.js';
import type { CacheBackend } from './types.js';

/**
 * Options of {@link MemoryBackend}.
 *
 * @example
 * ```ts
 * new MemoryBackend({ maxEntries: 5_000, maxBytes: 50_000_000, purgeInterval: 30 });
 * ```
 */
export interface MemoryBackendOptions {
  /**
   * Most entries kept; past it the least recently used entry is evicted.
   * Default `10_000`.
   *
   * @default 10_000
   */
  maxEntries?: number;
  /**
   * Optional bound on the stored size in bytes, counted as 2 bytes per UTF-16
   * code unit of key and encoded value (roughly what V8 holds). An entry larger
   * than the bound is not stored. Default: no byte bound (only `maxEntries`).
   *
   * @default no byte bound (only `maxEntries`)
   */
  maxBytes?: number;
  /**
   * Seconds between sweeps that drop expired entries nobody reads any more, so
   * they do not hold memory until LRU eviction reaches them. `0` turns the sweep
   * off (expired entries are still never returned). The timer is `unref`'d and
   * stops by itself when the backend is garbage collected. Default `60`.
   *
   * @default 60
   */
  purgeInterval?: number;
}

const WHERE = 'new MemoryBackend()';

function positiveInteger(where: string, option: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InvalidOptionError(where, option, value, `an integer from 1 to ${max.toLocaleString('en-US')}`);
  }
  return value;
}

/**
 * The LRU bounds of an in-process store (the memory backend, a tiered backend's
 * L1): `maxEntries` (default 10,000) and the optional `maxBytes`, validated.
 */
export function lruBounds<V extends { length: number } | { raw: string }>(
  where: string,
  options: { maxEntries?: number | undefined; maxBytes?: number | undefined },
): LRUCache.Options<string, V, unknown> {
  const { maxEntries = 10_000, maxBytes } = options;
  // lru-cache preallocates index arrays of `max` slots: keep the bound sane.
  positiveInteger(where, 'maxEntries', maxEntries, 2 ** 28);
  if (maxBytes === undefined) return { max: maxEntries };
  positiveInteger(where, 'maxBytes', maxBytes, Number.MAX_SAFE_INTEGER);
  return {
    max: maxEntries,
    maxSize: maxBytes,
    sizeCalculation: (value, key) =>
      ((typeof value === 'string' ? value.length : (value as { raw: string }).raw.length) + key.length) * 2,
  };
}

/**
 * Sweeps expired entries every `seconds`. Holds the LRU only through a WeakRef so
 * a store dropped without `close()` does not keep a timer (and its memory) alive.
 */
export function startSweeper<V extends {}>(
  lru: LRUCache<string, V>,
  seconds: number,
  sweep: (lru: LRUCache<string, V>) => void,
): ReturnType<typeof setInterval> {
  const ref = new WeakRef(lru);
  const timer = setInterval(() => {
    const target = ref.deref();
    if (target === undefined) clearInterval(timer);
    else sweep(target);
  }, seconds * 1000);
  // On Node the sweep must not keep the process alive; edge and worker runtimes
  // have plain numeric timers without unref().
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

/** `purgeInterval`, validated: seconds ≥ 0. */
export function purgeSeconds(where: string, purgeInterval: unknown): number {
  assertSeconds(where, 'purgeInterval', purgeInterval, { allowZero: true });
  return purgeInterval;
}

/**
 * The default in-process backend: bounded by `maxEntries` (LRU eviction) and
 * optionally `maxBytes`, with per-entry expiry. Entries hold the encoded string,
 * so every read decodes a fresh copy: a caller mutating what it got never changes
 * what the next caller gets.
 *
 * Expired entries are never returned; they leave memory when read, when the LRU
 * bound pushes them out, or at the next sweep (`purgeInterval`), whichever comes
 * first. Memory use is therefore bounded by `maxEntries` × the entry size at all times.
 *
 * @example
 * ```ts
 * CacheManager.init(new MemoryBackend({ maxEntries: 5_000 }), { prefix: 'app', expire: 60 });
 * ```
 */
export class MemoryBackend implements CacheBackend {
  readonly name = 'memory';
  readonly #lru: LRUCache<string, string>;
  readonly #purgeInterval: number;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(options: MemoryBackendOptions = {}) {
    const { purgeInterval = 60 } = options;
    const bounds = lruBounds<string>(WHERE, options);
    this.#purgeInterval = purgeSeconds(WHERE, purgeInterval);
    // Expiry on the server's clock (fake timers in tests move it), not lru-cache's own.
    this.#lru = new LRUCache<string, string>({ ...bounds, perf: clock });
  }

  get(key: string): string | undefined {
    return this.#lru.get(key);
  }

  set(key: string, value: string, ttl?: number): void {
    if (ttl === undefined) {
      this.#lru.set(key, value);
      return;
    }
    this.#lru.set(key, value, { ttl: ttl * 1000 });
    // Started by the first entry that can expire, not by the constructor: a backend
    // made at module scope on Cloudflare Workers may not start timers there.
    if (this.#sweeper === undefined && this.#purgeInterval > 0) {
      this.#sweeper = startSweeper(this.#lru, this.#purgeInterval, (lru) => lru.purgeStale());
    }
  }

  delete(key: string): void {
    this.#lru.delete(key);
  }

  deleteByPrefix(prefix: string): void {
    // Collected first: deleting while lru-cache walks its linked list is not supported.
    const doomed: string[] = [];
    for (const key of this.#lru.keys()) if (key.startsWith(prefix)) doomed.push(key);
    for (const key of doomed) this.#lru.delete(key);
  }

  /** Number of entries held, expired ones included until they are swept or read. */
  get size(): number {
    return this.#lru.size;
  }

  /** Drops every entry and stops the sweep timer. */
  close(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#lru.clear();
  }
}
