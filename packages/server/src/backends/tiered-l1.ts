/**
 * The in-process tier of `TieredBackend`: the memory backend's LRU (same
 * `maxEntries` / `maxBytes` bounds), holding each entry with its absolute expiry
 * so that the bus can shorten every entry's life at once without reordering the LRU.
 */
import { LRUCache } from 'lru-cache';
import { now as clockNow } from '../cache/clock.js';
import { lruBounds, purgeSeconds, startSweeper } from './memory.js';

interface Entry {
  raw: string;
  /** Epoch ms; `Infinity` for none. */
  expiresAt: number;
}

function sweep(lru: LRUCache<string, Entry>, now = clockNow()): void {
  const doomed: string[] = [];
  for (const [key, entry] of lru.entries()) if (entry.expiresAt <= now) doomed.push(key);
  for (const key of doomed) lru.delete(key);
}

export class L1 {
  readonly #lru: LRUCache<string, Entry>;
  readonly #purgeInterval: number;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(
    where: string,
    options: { maxEntries?: number | undefined; maxBytes?: number | undefined; purgeInterval?: number },
  ) {
    this.#lru = new LRUCache<string, Entry>(lruBounds<Entry>(where, options));
    this.#purgeInterval = purgeSeconds(where, options.purgeInterval ?? 60);
  }

  /** The live string under `key`; an expired entry is dropped. */
  get(key: string, now: number): string | undefined {
    const entry = this.#lru.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > now) return entry.raw;
    this.#lru.delete(key);
    return undefined;
  }

  has(key: string, now: number): boolean {
    const entry = this.#lru.peek(key);
    return entry !== undefined && entry.expiresAt > now;
  }

  set(key: string, raw: string, expiresAt: number): void {
    this.#lru.set(key, { raw, expiresAt });
    if (this.#sweeper === undefined && this.#purgeInterval > 0 && expiresAt !== Infinity) {
      this.#sweeper = startSweeper(this.#lru, this.#purgeInterval, (lru) => sweep(lru));
    }
  }

  /** Shortens the life of `key`'s entry to end by `until` at the latest. */
  capOne(key: string, until: number): void {
    const entry = this.#lru.peek(key);
    if (entry !== undefined && entry.expiresAt > until) entry.expiresAt = until;
  }

  /** Shortens every entry's life to end by `until` at the latest (the LRU order stays). */
  capAll(until: number): void {
    for (const entry of this.#lru.values()) if (entry.expiresAt > until) entry.expiresAt = until;
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

  clear(): void {
    this.#lru.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  close(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#lru.clear();
  }
}
