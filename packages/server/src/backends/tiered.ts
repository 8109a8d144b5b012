import { now } from '../cache/clock.js';
import { InvalidOptionError } from '../errors.js';
import { assertSeconds } from '../seconds.js';
import { RedisBackend } from './redis.js';
import type { RedisClient } from './redis-clients.js';
import { internalsOf, type RedisInternals } from './redis-internals.js';
import { Bus } from './tiered-bus.js';
import { L1 } from './tiered-l1.js';
import type { TieredBackendOptions } from './tiered-options.js';
import type { CacheBackend } from './types.js';

export type { TieredBackendOptions, TieredL1Options } from './tiered-options.js';

const WHERE = 'new TieredBackend()';
const REDIS_OPTIONS = ['commandTimeout', 'cooldown', 'scanCount'] as const;

/** An L2 read in flight: a write or invalidation of its key meanwhile keeps it out of L1. */
interface Read {
  promise: Promise<string | undefined>;
  stale: boolean;
}

/**
 * A two-tier backend for apps running many instances on one Redis: a bounded
 * in-process L1 (the memory backend's LRU) in front of a `RedisBackend` L2 (a
 * single node or a Cluster, over ioredis or node-redis), kept coherent by an
 * invalidation bus over Redis pub/sub.
 *
 * - **Reads.** An L1 hit costs no network and answers synchronously. An L1 miss
 *   reads L2 (`GET` and `PTTL` in one round trip) and fills L1 with the entry's
 *   remaining time to live in Redis, never longer; concurrent misses of one key
 *   share that read.
 * - **Writes.** `set`, `delete` and `deleteByPrefix` (what `set()`, `memorize`,
 *   `clear({ key })`, `clear({ namespace })`, `clear()` and `invalidates()` call)
 *   change L1 and L2, then publish the key or prefix (never the value) on the
 *   bus: every other instance drops the matching L1 entries. An instance ignores
 *   its own messages. A publish that fails rejects the write, which the cache
 *   reports through `onError`.
 * - **Staleness bound.** While the bus is up, an invalidation reaches the other
 *   instances in about one Redis round trip. When it is down — the subscriber
 *   connection dropped, Redis unreachable or stalled, or messages found missing
 *   — every L1 entry, those already held and those written meanwhile, lives at
 *   most `busLossTtl` seconds (5) from then. A drop the subscriber connection
 *   reports counts at once; a silent one shows within two heartbeats (each
 *   instance hears its own heartbeat every `min(busLossTtl / 2, 1)` seconds) or
 *   at the next message whose sequence number has a gap. When the bus is back,
 *   L1 is emptied: whatever it held may have missed an invalidation.
 * - **Fail-open.** With Redis down, L1 keeps answering what it holds (within the
 *   bound above), misses run the resolver, and nothing fails: L2 failures
 *   reject as `RedisBackend`'s do, and the cache turns them into misses
 *   reported through `onError`.
 *
 * The bus listens on a connection of its own, made with your client's
 * `duplicate()`; on a Cluster it uses sharded pub/sub (`SSUBSCRIBE` /
 * `SPUBLISH`): the messages stay on the channel's shard instead of crossing the
 * whole cluster, and one instance's messages arrive in order.
 *
 * @example
 * ```ts
 * import { createCache } from '@trpc-memory/server';
 * import { TieredBackend } from '@trpc-memory/server/redis';
 *
 * const backend = new TieredBackend('redis://127.0.0.1:6379', { l1: { maxEntries: 5_000 }, busLossTtl: 2 });
 * const cache = createCache(backend, { prefix: 'app', expire: 60 });
 * // or: await initCache({ backend: 'redis', url: 'redis://127.0.0.1:6379', l1: { maxEntries: 5_000 } });
 * ```
 */
export class TieredBackend<TClient extends RedisClient = RedisClient> implements CacheBackend {
  readonly name = 'tiered';
  /** The Redis tier: the `RedisBackend` you passed, or the one made from your client or URL. */
  readonly l2: RedisBackend<TClient>;
  readonly #redis: RedisInternals;
  readonly #ownsL2: boolean;
  readonly #l1: L1;
  readonly #bus: Bus;
  readonly #busLossMs: number;
  readonly #reads = new Map<string, Read>();
  /** The caches' reporters (held weakly: a cache may go before its backend). */
  readonly #reporters = new Set<WeakRef<(error: unknown) => void>>();
  /** Moved when L1 is emptied: an L2 read started before must not fill it. */
  #generation = 0;
  #closed = false;

  constructor(l2: RedisBackend<TClient> | TClient | string, options: TieredBackendOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError(WHERE, 'options', options, 'an options object (or omitted)');
    }
    const { l1 = {}, busLossTtl, channel = 'trpc-memory:bus' } = options;
    assertSeconds(WHERE, 'busLossTtl', busLossTtl, { optional: true });
    this.#busLossMs = (busLossTtl ?? 5) * 1000;
    if (typeof channel !== 'string' || channel.length === 0) {
      throw new InvalidOptionError(WHERE, 'channel', channel, 'a non-empty string');
    }
    if (l1 === null || typeof l1 !== 'object') {
      throw new InvalidOptionError(WHERE, 'l1', l1, '{ maxEntries?, maxBytes?, purgeInterval? }');
    }
    this.#l1 = new L1(WHERE, l1);
    const given = internalsOf(l2);
    if (given !== undefined) {
      const stray = REDIS_OPTIONS.find((name) => options[name] !== undefined);
      if (stray !== undefined) {
        throw new InvalidOptionError(
          WHERE,
          stray,
          options[stray],
          'omitted when a RedisBackend is given (set it on that RedisBackend)',
        );
      }
      this.l2 = l2 as RedisBackend<TClient>;
      this.#redis = given;
      this.#ownsL2 = false;
    } else if (l2 instanceof RedisBackend) {
      throw new InvalidOptionError(WHERE, 'l2', l2, 'a RedisBackend of this copy of @trpc-memory/server');
    } else {
      const redisOptions = Object.fromEntries(
        REDIS_OPTIONS.filter((name) => options[name] !== undefined).map((name) => [name, options[name]]),
      );
      this.l2 = new RedisBackend<TClient>(l2 as TClient | string, redisOptions);
      this.#redis = internalsOf(this.l2) as RedisInternals;
      this.#ownsL2 = true;
    }
    const heartbeatMs = Math.max(10, Math.min(this.#busLossMs / 2, 1000));
    try {
      this.#bus = new Bus(this.#redis, channel, heartbeatMs, {
        key: (key) => this.#drop(key),
        prefix: (prefix) => this.#dropPrefix(prefix),
        lost: (error) => {
          this.#l1.capAll(now() + this.#busLossMs);
          this.#report(error);
        },
        restored: () => this.#empty(),
      });
    } catch (error) {
      // A client the bus cannot subscribe with: the connection made for it must not leak.
      if (this.#ownsL2) void this.l2.close();
      throw error;
    }
  }

  /**
   * Receives the bus' failures (a lost subscription, a missing heartbeat): a
   * cache made over this backend registers itself, and reports them through its
   * `onError` with operation `'bus'`.
   */
  reportTo(report: (error: unknown) => void): void {
    this.#reporters.add(new WeakRef(report));
  }

  #report(error: unknown): void {
    for (const ref of this.#reporters) {
      const report = ref.deref();
      if (report === undefined) this.#reporters.delete(ref);
      else report(error);
    }
  }

  /** Whether the invalidation bus is up (see the staleness bound above). */
  get busUp(): boolean {
    return this.#bus.up;
  }

  /** Whether L1 holds a live entry for `key` (no network). */
  hasInL1(key: string): boolean {
    return this.#l1.has(key, now());
  }

  /** Entries held in L1, expired ones included until read or swept. */
  get l1Size(): number {
    return this.#l1.size;
  }

  get(key: string): string | undefined | Promise<string | undefined> {
    const raw = this.#l1.get(key, now());
    return raw !== undefined ? raw : this.#fill(key);
  }

  #fill(key: string): Promise<string | undefined> {
    const pending = this.#reads.get(key);
    if (pending !== undefined) return pending.promise;
    const generation = this.#generation;
    const sentAt = now();
    const read: Read = { promise: undefined as never, stale: false };
    const settle = () => {
      if (this.#reads.get(key) === read) this.#reads.delete(key);
    };
    read.promise = this.#redis.getWithTtl(key).then(
      ([raw, ttlMs]) => {
        settle();
        // -2: gone between GET and PTTL; 0: expiring now. Neither is worth keeping.
        if (raw === undefined || read.stale || generation !== this.#generation || ttlMs === 0 || ttlMs < -1) {
          return raw;
        }
        // PTTL counted from when Redis ran it, after `sentAt`: L1 never outlives L2.
        this.#put(key, raw, ttlMs === -1 ? Number.POSITIVE_INFINITY : sentAt + ttlMs);
        return raw;
      },
      (error: unknown) => {
        settle();
        throw error;
      },
    );
    this.#reads.set(key, read);
    return read.promise;
  }

  #put(key: string, raw: string, expiresAt: number): void {
    if (this.#closed) return;
    const at = now();
    if (expiresAt <= at) return;
    this.#l1.set(key, raw, this.#bus.up ? expiresAt : Math.min(expiresAt, at + this.#busLossMs));
  }

  /**
   * L1 forgets `key`; an L2 read of it in flight fills nothing, and reads from
   * now on do not join it (it may answer what was just invalidated).
   */
  #drop(key: string): void {
    const read = this.#reads.get(key);
    if (read !== undefined) {
      read.stale = true;
      this.#reads.delete(key);
    }
    this.#l1.delete(key);
  }

  #dropPrefix(prefix: string): void {
    for (const [key, read] of this.#reads) {
      if (!key.startsWith(prefix)) continue;
      read.stale = true;
      this.#reads.delete(key);
    }
    this.#l1.deleteByPrefix(prefix);
  }

  #empty(): void {
    this.#generation++;
    this.#reads.clear();
    this.#l1.clear();
  }

  async set(key: string, value: string, ttl?: number): Promise<void> {
    this.#drop(key);
    this.#put(key, value, ttl === undefined ? Number.POSITIVE_INFINITY : now() + ttl * 1000);
    try {
      await this.#thenPublish(this.l2.set(key, value, ttl), key);
    } catch (error) {
      // Not known to be in Redis (or not known to the others): the copy here lives on the short leash.
      this.#l1.capOne(key, now() + this.#busLossMs);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    this.#drop(key);
    await this.#thenPublish(this.l2.delete(key), key);
  }

  /**
   * Publishes `key` once Redis has applied `write`: an instance told to drop its
   * copy must read the new state. On a single node the PUBLISH goes out with the
   * write, on the same connection, and Redis runs them in that order (one round
   * trip); on a Cluster the write's node and the channel's shard may differ, so
   * it waits for the write's reply.
   */
  async #thenPublish(write: Promise<void>, key: string): Promise<void> {
    if (this.#redis.cluster) {
      await write;
      await this.#bus.publish('k', key);
      return;
    }
    const published = this.#bus.publish('k', key);
    await Promise.all([write, published]);
  }

  async deleteByPrefix(prefix: string): Promise<void> {
    this.#dropPrefix(prefix);
    await this.l2.deleteByPrefix(prefix);
    // Reads of keys the clear had not reached yet may have filled L1 meanwhile.
    this.#dropPrefix(prefix);
    await this.#bus.publish('p', prefix);
  }

  /**
   * Stops the bus and empties L1. A `RedisBackend` you passed stays open (close
   * it yourself); one made from your client or URL is closed.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#l1.close();
    await this.#bus.close();
    if (this.#ownsL2) await this.l2.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
