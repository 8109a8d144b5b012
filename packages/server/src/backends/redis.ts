import type { EventEmitter } from 'node:events';
import { type Cluster, Redis } from 'ioredis';
import { InvalidOptionError, TrpcMemoryError } from '../errors.js';
import type { RedisBackendOptions } from './redis-options.js';
import type { CacheBackend } from './types.js';

export type { RedisBackendOptions } from './redis-options.js';

/**
 * An ioredis client the backend can use: a single node or a cluster, in either reply mapping.
 *
 * @example
 * ```ts
 * const client: RedisClient = new Cluster([{ host: '127.0.0.1', port: 7000 }]);
 * const backend = new RedisBackend(client);
 * ```
 */
export type RedisClient = Redis | Redis<'resp3'> | Cluster | Cluster<'resp3'>;

/**
 * Why a Redis command was not attempted or did not finish. Reported through the
 * cache's `onError` hook; reads and writes become misses, `clear()` rejects.
 *
 * @example
 * ```ts
 * createCache(backend, {
 *   onError: ({ error }) => {
 *     if (error instanceof RedisBackendError && error.reason === 'timeout') metrics.increment('redis.timeout');
 *   },
 * });
 * ```
 */
export class RedisBackendError extends TrpcMemoryError {
  override name = 'RedisBackendError';
  constructor(
    /**
     * `'timeout'`: no reply within `commandTimeout`; `'unavailable'`: the client
     * is not connected (or cooling down after a timeout), nothing was sent;
     * `'closed'`: the backend or its client was closed.
     */
    readonly reason: 'timeout' | 'unavailable' | 'closed',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const WHERE = 'new RedisBackend()';

function seconds(option: string, value: unknown, fallback: number, allowZero: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new InvalidOptionError(
      WHERE,
      option,
      value,
      allowZero ? 'a finite number of seconds ≥ 0' : 'a positive finite number of seconds',
    );
  }
  return value;
}

/** SCAN MATCH is a glob: a prefix must match itself literally, whatever it contains. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function keyPrefixOf(client: { options: { keyPrefix?: unknown } }): string {
  const { keyPrefix } = client.options;
  return typeof keyPrefix === 'string' ? keyPrefix : '';
}

function isCluster(client: RedisClient): client is Cluster {
  // Duck-typed rather than `instanceof`: an app may hold a different copy of ioredis.
  return (client as { isCluster?: unknown }).isCluster === true;
}

const noop = (): void => {};

/**
 * The Redis backend (ioredis), for caches shared by several processes. Entries
 * expire in Redis itself (`SET … PX`). It never lets Redis make a request fail or
 * hang: while Redis is down the backend answers at once without queueing
 * anything, a command without reply within `commandTimeout` (0.5 s) is given up,
 * and the cache turns both into misses reported through `onError`.
 *
 * Give it an ioredis `Redis`, an ioredis `Cluster`, or a `redis://` / `rediss://`
 * URL. A client you pass in stays yours: `close()` does not quit it, and its own
 * offline queue and retry settings are never exercised by the cache (commands are
 * only sent while it is connected). From a URL the backend makes and owns a client
 * with the offline queue off, no resending after a reconnect, auto-pipelining on, and
 * reconnection backoff capped at 2 s; for your own client under concurrent load,
 * `enableAutoPipelining: true` is worth setting too.
 *
 * Clearing a prefix or namespace walks the keys with `SCAN … MATCH` and removes
 * them with `UNLINK` (on every master of a cluster), never with `KEYS`. Versioned
 * namespaces were measured as the alternative (see the cache-backends bench): they
 * make `clear()` O(1) but put a second lookup on every hit, and hits outnumber
 * clears by orders of magnitude.
 *
 * @example
 * ```ts
 * import { RedisBackend } from '@trpc-memory/server/redis';
 *
 * CacheManager.init(new RedisBackend('redis://127.0.0.1:6379'), { prefix: 'app', expire: 60 });
 * // or with your own client (a Redis or a Cluster):
 * const backend = new RedisBackend(new Redis(process.env.REDIS_URL!), { commandTimeout: 0.25 });
 * ```
 */
export class RedisBackend implements CacheBackend {
  readonly name = 'redis';
  /** The ioredis client in use (yours, or the one made from the URL). */
  readonly client: RedisClient;
  readonly #owned: boolean;
  readonly #cluster: boolean;
  readonly #timeoutMs: number;
  readonly #cooldownMs: number;
  readonly #scanCount: number;
  readonly #listeners: [event: string, listener: (arg?: unknown) => void][];
  /** Set after a timeout: until then commands fail at once. 0 = not cooling down. */
  #coolUntil = 0;
  /** The client disconnected (or never connected) since it was last ready. */
  #down: boolean;
  #lastError: unknown;
  #closed = false;
  readonly #sliceMs: number;
  #bucket: Set<(error: unknown) => void> | undefined;
  #bucketEnds = 0;
  /** Shared by every command waiting for the first connection. */
  #ready: { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } | undefined;

  constructor(client: RedisClient | string, options: RedisBackendOptions = {}) {
    this.#timeoutMs = seconds('commandTimeout', options.commandTimeout, 0.5, false) * 1000;
    this.#cooldownMs = seconds('cooldown', options.cooldown, 1, true) * 1000;
    this.#sliceMs = Math.max(1, Math.round(this.#timeoutMs / 10));
    const { scanCount = 1000 } = options;
    if (!Number.isSafeInteger(scanCount) || scanCount < 1) {
      throw new InvalidOptionError(WHERE, 'scanCount', scanCount, 'a positive integer');
    }
    this.#scanCount = scanCount;

    if (typeof client === 'string') {
      if (!/^rediss?:\/\//.test(client)) {
        throw new InvalidOptionError(
          WHERE,
          'client',
          client,
          'an ioredis Redis or Cluster, or a redis:// URL',
        );
      }
      this.client = new Redis(client, {
        // The backend only sends while connected, so a queue would only hold
        // commands nobody waits for any more.
        enableOfflineQueue: false,
        // Concurrent requests' GETs leave in one write: twice the hit throughput
        // at concurrency 64 (cache-backends bench), no cost when idle.
        enableAutoPipelining: true,
        // Fail open, never late: a command cut off by a disconnect is not resent
        // after reconnecting (a resent SET could land after a clear()).
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        connectTimeout: Math.max(1000, this.#timeoutMs * 4),
        retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
      });
      this.#owned = true;
    } else if (
      typeof client === 'object' &&
      client !== null &&
      typeof (client as { get?: unknown }).get === 'function' &&
      typeof (client as { status?: unknown }).status === 'string'
    ) {
      this.client = client;
      this.#owned = false;
    } else {
      throw new InvalidOptionError(WHERE, 'client', client, 'an ioredis Redis or Cluster, or a redis:// URL');
    }
    this.#cluster = isCluster(this.client);

    this.#listeners = [
      [
        'ready',
        () => {
          this.#down = false;
          this.#lastError = undefined;
          this.#ready?.resolve();
          this.#ready = undefined;
        },
      ],
      ['close', () => this.#markDown()],
      ['end', () => this.#markDown()],
    ];
    // Only a client we own gets an 'error' listener: on yours it would silence
    // ioredis' own "Unhandled error event" logging, which is yours to decide.
    if (this.#owned) this.#listeners.push(['error', (error) => (this.#lastError = error)]);
    for (const [event, listener] of this.#listeners) (this.client as EventEmitter).on(event, listener);
    // A client you pass in may have lost its connection already: no 'close' will tell us,
    // and waiting for 'ready' would hold each command until commandTimeout.
    const { status } = this.client;
    this.#down = status === 'close' || status === 'reconnecting' || status === 'disconnecting';
  }

  #markDown(): void {
    this.#down = true;
    if (this.#ready !== undefined) {
      this.#ready.reject(this.#unavailable());
      this.#ready = undefined;
    }
  }

  #unavailable(): RedisBackendError {
    const last = this.#lastError instanceof Error ? `: ${this.#lastError.message}` : '';
    return new RedisBackendError(
      'unavailable',
      `Redis is not connected (client status "${this.client.status}")${last}; nothing was sent`,
      this.#lastError === undefined ? undefined : { cause: this.#lastError },
    );
  }

  /**
   * Rejects at once when the command must not be sent (closed, cooling down,
   * disconnected); waits (bounded by `commandTimeout`) only for a first
   * connection still under way. `undefined` means "send now": the hot path
   * allocates nothing.
   */
  #gate(): Promise<void> | RedisBackendError | undefined {
    if (this.#closed) return new RedisBackendError('closed', 'the Redis backend was closed');
    if (this.#coolUntil !== 0) {
      if (Date.now() < this.#coolUntil) {
        return new RedisBackendError(
          'unavailable',
          'Redis timed out recently; skipping it until the cooldown ends',
        );
      }
      this.#coolUntil = 0;
    }
    const status = this.client.status;
    if (status === 'ready') return undefined;
    if (status === 'end') return new RedisBackendError('closed', 'the ioredis client was closed');
    if (this.#down) return this.#unavailable();
    if (this.#ready === undefined) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(noop);
      this.#ready = { promise, resolve, reject };
      if (status === 'wait') (this.client.connect() as Promise<void>).catch(noop);
    }
    return this.#ready.promise;
  }

  /**
   * Runs `send` when the gate allows, giving up after `commandTimeout`.
   * `nullAsUndefined` maps Redis' nil reply within the same promise (hot path).
   */
  #run<T>(send: () => Promise<T>, nullAsUndefined = false): Promise<T> {
    const gate = this.#gate();
    if (gate === undefined) return this.#deadline(send(), nullAsUndefined);
    if (gate instanceof RedisBackendError) return Promise.reject(gate);
    return this.#deadline(gate.then(send), nullAsUndefined);
  }

  #deadline<T>(pending: Promise<T>, nullAsUndefined = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const bucket = this.#currentBucket();
      bucket.add(reject);
      pending.then(
        (value) => {
          bucket.delete(reject);
          resolve(nullAsUndefined && value === null ? (undefined as T) : value);
        },
        (error: unknown) => {
          bucket.delete(reject);
          reject(error);
        },
      );
    });
  }

  /**
   * Commands started within the same slice of time (a tenth of `commandTimeout`)
   * share one timer: a `setTimeout` + `clearTimeout` per command cost more than
   * the rest of the wrapper on the hit path. A command is thus given up between
   * `commandTimeout` and 1.1 × `commandTimeout` after it started.
   */
  #currentBucket(): Set<(error: unknown) => void> {
    const now = Date.now();
    if (this.#bucket === undefined || now >= this.#bucketEnds) {
      const bucket = new Set<(error: unknown) => void>();
      this.#bucket = bucket;
      this.#bucketEnds = now + this.#sliceMs;
      setTimeout(() => this.#expire(bucket), this.#timeoutMs + this.#sliceMs).unref();
    }
    return this.#bucket;
  }

  #expire(bucket: Set<(error: unknown) => void>): void {
    if (bucket.size === 0) return;
    if (this.#cooldownMs > 0) this.#coolUntil = Date.now() + this.#cooldownMs;
    for (const reject of bucket) {
      reject(
        new RedisBackendError(
          'timeout',
          `Redis did not answer within ${this.#timeoutMs / 1000} s (commandTimeout)`,
        ),
      );
    }
    bucket.clear();
  }

  get(key: string): Promise<string | undefined> {
    return this.#run(() => this.client.get(key), true) as Promise<string | undefined>;
  }

  async set(key: string, value: string, ttl?: number): Promise<void> {
    await this.#run(() =>
      ttl === undefined
        ? this.client.set(key, value)
        : this.client.set(key, value, 'PX', Math.max(1, Math.round(ttl * 1000))),
    );
  }

  async delete(key: string): Promise<void> {
    await this.#run(() => this.client.unlink(key));
  }

  /**
   * `SCAN … MATCH <prefix>*` + `UNLINK` over every master. Each step has its own
   * `commandTimeout`; a failing step rejects the whole clear.
   */
  async deleteByPrefix(prefix: string): Promise<void> {
    // Through the gate first: a cluster knows its masters only once connected.
    await this.#run(() => Promise.resolve());
    const pattern = `${keyPrefixOf(this.client)}${escapeGlob(prefix)}*`;
    const nodes: Redis[] = this.#cluster ? (this.client as Cluster).nodes('master') : [this.client as Redis];
    await Promise.all(nodes.map((node) => this.#clearNode(node, pattern)));
  }

  async #clearNode(node: Redis, pattern: string): Promise<void> {
    // Keys come back as stored; the connection adds its own keyPrefix again on UNLINK.
    const strip = keyPrefixOf(node).length;
    let cursor = '0';
    do {
      const [next, found] = await this.#deadline(
        node.scan(cursor, 'MATCH', pattern, 'COUNT', this.#scanCount),
      );
      cursor = next;
      if (found.length === 0) continue;
      const keys = strip === 0 ? found : found.map((key) => key.slice(strip));
      if (!this.#cluster) {
        await this.#deadline(node.unlink(...keys));
        continue;
      }
      // A multi-key UNLINK must stay within one hash slot: one command per key, pipelined.
      const pipeline = node.pipeline();
      for (const key of keys) pipeline.unlink(key);
      const results = (await this.#deadline(pipeline.exec())) ?? [];
      const failed = results.find(([error]) => error !== null);
      if (failed !== undefined) throw failed[0];
    } while (cursor !== '0');
  }

  /**
   * Stops using the client. A client made from a URL is quit (disconnected when
   * Redis does not answer within `commandTimeout`); a client you passed in is
   * left open for you.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [event, listener] of this.#listeners) (this.client as EventEmitter).off(event, listener);
    this.#ready?.reject(new RedisBackendError('closed', 'the Redis backend was closed'));
    this.#ready = undefined;
    if (!this.#owned) return;
    const client = this.client as Redis; // made from the URL
    if (client.status === 'end') return;
    const ended = new Promise<void>((resolve) => (client as EventEmitter).once('end', () => resolve()));
    if (client.status === 'ready') {
      try {
        // QUIT lets commands already sent finish; 'end' is when the socket is gone.
        await this.#deadline(client.quit().then(() => ended));
        return;
      } catch {
        // Redis did not answer in time: fall through to a hard disconnect.
      }
    }
    // Between reconnection attempts there is no socket left: disconnect() only
    // cancels the next attempt, and no 'end' follows.
    const live = client.status === 'connecting' || client.status === 'connect';
    client.disconnect();
    if (!live) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise((resolve) => (timer = setTimeout(resolve, this.#timeoutMs)))]);
    clearTimeout(timer);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
