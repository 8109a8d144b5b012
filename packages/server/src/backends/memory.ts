import { LRUCache } from 'lru-cache';
import type { CacheBackend } from './types.js';

/** Options of {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /** Most entries kept; the least recently used is evicted past it. Default `10_000`. */
  maxEntries?: number;
  /** Optional bound on the stored bytes (UTF-16 length × 2 of keys and values). Default: none. */
  maxBytes?: number;
}

/**
 * The default in-process backend: bounded (LRU), TTL-expiring. Values are stored
 * encoded, so what a caller gets back is always a fresh copy.
 *
 * @example
 * ```ts
 * CacheManager.init(new MemoryBackend({ maxEntries: 5_000 }), { prefix: 'app', expire: 60 });
 * ```
 */
export class MemoryBackend implements CacheBackend {
  readonly name = 'memory';
  readonly #lru: LRUCache<string, string>;

  constructor(options: MemoryBackendOptions = {}) {
    const { maxEntries = 10_000, maxBytes } = options;
    this.#lru = new LRUCache<string, string>({
      max: maxEntries,
      ...(maxBytes === undefined
        ? {}
        : { maxSize: maxBytes, sizeCalculation: (value, key) => (value.length + key.length) * 2 || 1 }),
    });
  }

  get(key: string): string | undefined {
    return this.#lru.get(key);
  }

  set(key: string, value: string, ttl?: number): void {
    this.#lru.set(key, value, ttl === undefined ? undefined : { ttl: ttl * 1000 });
  }

  delete(key: string): void {
    this.#lru.delete(key);
  }

  deleteByPrefix(prefix: string): void {
    for (const key of this.#lru.keys()) if (key.startsWith(prefix)) this.#lru.delete(key);
  }

  /** Number of live entries (expired ones may still be counted until touched). */
  get size(): number {
    return this.#lru.size;
  }

  close(): void {
    this.#lru.clear();
  }
}
