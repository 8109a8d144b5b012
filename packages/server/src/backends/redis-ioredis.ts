/**
 * ioredis under `RedisBackend`. The backend never sends its commands over your
 * client's own connection: ioredis queues commands while disconnected and, on
 * its defaults, re-sends after reconnecting the commands that were in flight when
 * the connection dropped — long after the backend reported them failed (a SET
 * computed before an outage, landing in the restarted, empty Redis or after
 * another instance's `clear()`). Those settings are per connection, not per
 * command, so the backend opens its own connection with `client.duplicate()`
 * (same host, credentials, TLS, db, keyPrefix) under {@link SAFE_REDIS_OPTIONS}.
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { MissingDependencyError } from '../errors.js';
import type { IoredisClient } from './redis-clients.js';
import {
  type ConnectionEvents,
  type ConnectionState,
  delay,
  type FailureKind,
  type MasterNode,
  noop,
  type RedisConnection,
  type Subscription,
} from './redis-connection.js';

/**
 * A command the backend gave up on is never sent later, and a command in flight
 * when the connection drops fails at once.
 */
const SAFE_REDIS_OPTIONS = {
  // Nothing waits for a connection: the backend only sends while connected.
  enableOfflineQueue: false,
  // A command cut off by a disconnect is not re-sent after reconnecting...
  autoResendUnfulfilledCommands: false,
  // ...and is rejected as soon as the connection drops, not after 20 reconnections.
  maxRetriesPerRequest: 0,
} satisfies RedisOptions;

const SAFE_CLUSTER_OPTIONS = {
  enableOfflineQueue: false,
  // A command on a node that went away is rejected, not retried on another node
  // after a slot refresh (ioredis' 100 ms defaults), nor once the cluster is back.
  retryDelayOnFailover: 0,
  retryDelayOnClusterDown: 0,
} satisfies ClusterOptions;

const INSTALL_IOREDIS =
  'new RedisBackend(url) makes an ioredis client and needs the optional peer dependency ioredis: run `npm install ioredis` (or pass a node-redis client instead of a URL).';

/** ioredis is an optional peer: loaded only when the backend makes a client from a URL. */
function loadIoredis(): typeof import('ioredis') {
  try {
    return createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'MODULE_NOT_FOUND') {
      throw new MissingDependencyError(INSTALL_IOREDIS, { cause: error });
    }
    throw error;
  }
}

function keyPrefixOf(client: { options: { keyPrefix?: unknown } }): string {
  const { keyPrefix } = client.options;
  if (typeof keyPrefix === 'string') return keyPrefix;
  return keyPrefix instanceof Uint8Array ? Buffer.from(keyPrefix).toString() : '';
}

type Connection = Redis | Cluster;

export class IoredisConnection implements RedisConnection {
  readonly abortable = false;
  readonly keyPrefix: string;
  /** The client the app passed in (we only watch it end), or the one made from a URL. */
  readonly client: IoredisClient;
  readonly #conn: Connection;
  readonly #cluster: boolean;
  readonly #listeners: [target: EventEmitter, event: string, listener: (arg?: unknown) => void][] = [];
  /** Lost (or refused) since it was last ready. */
  #down: boolean;
  #lastError: unknown;
  #closing = false;
  #subscribers: Subscription[] = [];

  private constructor(client: IoredisClient, conn: Connection, down: boolean, events: ConnectionEvents) {
    this.client = client;
    this.#conn = conn;
    this.#cluster = (conn as { isCluster?: unknown }).isCluster === true;
    this.#down = down;
    this.keyPrefix = keyPrefixOf(conn);
    this.#listen(conn, 'ready', () => {
      this.#down = false;
      this.#lastError = undefined;
      events.ready();
    });
    this.#listen(conn, 'close', () => {
      this.#down = true;
      events.down(this.#lastError);
    });
    this.#listen(conn, 'end', () => {
      this.#down = true;
      if (!this.#closing) events.ended();
    });
    // Ours alone: without a listener ioredis logs every connection error itself.
    this.#listen(conn, 'error', (error) => (this.#lastError = error));
  }

  /** A client of our own, made from a `redis://` / `rediss://` URL. */
  static fromUrl(url: string, commandTimeoutMs: number, events: ConnectionEvents): IoredisConnection {
    const { Redis } = loadIoredis();
    const conn = new Redis(url, {
      ...SAFE_REDIS_OPTIONS,
      // Concurrent requests' GETs leave in one write. (A connection duplicated from
      // yours keeps your choice: its hit throughput is then that of your client.)
      enableAutoPipelining: true,
      connectTimeout: Math.max(1000, commandTimeoutMs * 4),
      retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
    });
    return new IoredisConnection(conn, conn, false, events);
  }

  /** Our own connection, duplicated from the app's `Redis` or `Cluster`. */
  static forClient(client: IoredisClient, events: ConnectionEvents): IoredisConnection {
    const appClient = client as unknown as Connection;
    const { status } = appClient;
    // Already quit: a connection that never opens, only so the backend reports "closed".
    const lazy = status === 'end' ? { lazyConnect: true } : {};
    const conn = (appClient as { isCluster?: unknown }).isCluster
      ? (appClient as Cluster).duplicate([], {
          ...SAFE_CLUSTER_OPTIONS,
          ...lazy,
          // The node connections: no reconnecting (and so no re-sending) on their own.
          clusterNodeRetryStrategy: undefined,
          redisOptions: { ...(appClient as Cluster).options.redisOptions, ...SAFE_REDIS_OPTIONS },
        } as Parameters<Cluster['duplicate']>[1])
      : (appClient as Redis).duplicate({ ...SAFE_REDIS_OPTIONS, ...lazy });
    // A client handed over while disconnected: fail at once until ours is ready,
    // rather than holding each command until commandTimeout.
    const down = status === 'close' || status === 'reconnecting' || status === 'disconnecting';
    const connection = new IoredisConnection(client, conn, down, events);
    if (status === 'end') {
      void connection.close(0);
      return connection;
    }
    // Your client ended (quit at shutdown): ours must not keep the process alive.
    connection.#listen(appClient, 'end', () => {
      void connection.close(0).then(() => events.ended());
    });
    return connection;
  }

  #listen(target: EventEmitter, event: string, listener: (arg?: unknown) => void): void {
    target.on(event, listener);
    this.#listeners.push([target, event, listener]);
  }

  state(): ConnectionState {
    const { status } = this.#conn;
    if (status === 'ready') return 'ready';
    if (status === 'end' || this.#closing) return 'ended';
    if (this.#down || status === 'close' || status === 'reconnecting') return 'down';
    return 'connecting';
  }

  lastError(): unknown {
    return this.#lastError;
  }

  connect(): void {
    if (this.#conn.status === 'wait') this.#conn.connect().catch(noop);
  }

  get(key: string): Promise<string | null> {
    return this.#conn.get(key);
  }

  set(key: string, value: string, ttlMs: number | undefined): Promise<unknown> {
    return ttlMs === undefined ? this.#conn.set(key, value) : this.#conn.set(key, value, 'PX', ttlMs);
  }

  unlink(key: string): Promise<unknown> {
    return this.#conn.unlink(key);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.#conn.set(key, value, 'PX', ttlMs, 'NX')) !== null;
  }

  evalOnKey(script: string, key: string, args: string[]): Promise<unknown> {
    return this.#conn.eval(script, 1, key, ...args);
  }

  /**
   * A connection of its own (pub/sub takes a connection over), duplicated from
   * ours with the offline queue on and automatic re-subscription: a SUBSCRIBE is
   * idempotent, so sending it whenever the connection comes back is what we want.
   */
  subscribe(channel: string, onMessage: (message: string) => void): Subscription {
    const sub = (
      this.#cluster
        ? (this.#conn as Cluster).duplicate([], {
            enableOfflineQueue: true,
            redisOptions: {
              ...(this.#conn as Cluster).options.redisOptions,
              enableOfflineQueue: true,
              autoResubscribe: true,
              maxRetriesPerRequest: null,
            },
          } as Parameters<Cluster['duplicate']>[1])
        : (this.#conn as Redis).duplicate({
            enableOfflineQueue: true,
            autoResubscribe: true,
            maxRetriesPerRequest: null,
            lazyConnect: false,
          })
    ) as Connection & EventEmitter;
    sub.on('error', noop);
    sub.on('message', (from: string, message: string) => {
      if (from === channel) onMessage(message);
    });
    const ready = sub.subscribe(channel).then(noop);
    ready.catch(noop);
    const subscription: Subscription = {
      ready,
      close: async () => {
        this.#subscribers = this.#subscribers.filter((other) => other !== subscription);
        sub.removeAllListeners('message');
        sub.disconnect();
      },
    };
    this.#subscribers.push(subscription);
    return subscription;
  }

  pttl(key: string): Promise<number> {
    return this.#conn.pttl(key);
  }

  publish(channel: string, message: string): Promise<unknown> {
    return this.#cluster ? this.#conn.spublish(channel, message) : this.#conn.publish(channel, message);
  }

  async masters(): Promise<MasterNode[]> {
    const nodes = this.#cluster ? (this.#conn as Cluster).nodes('master') : [this.#conn as Redis];
    return nodes.map((node) => this.#master(node));
  }

  #master(node: Redis): MasterNode {
    // Keys come back as stored; the connection adds its own keyPrefix again on UNLINK.
    const strip = keyPrefixOf(node).length;
    const cluster = this.#cluster;
    return {
      scan: (cursor, pattern, count) => node.scan(cursor, 'MATCH', pattern, 'COUNT', count),
      async unlink(found) {
        const keys = strip === 0 ? found : found.map((key) => key.slice(strip));
        if (!cluster) {
          await node.unlink(...keys);
          return;
        }
        // A multi-key UNLINK must stay within one hash slot: one command per key, pipelined.
        const pipeline = node.pipeline();
        for (const key of keys) pipeline.unlink(key);
        const results = (await pipeline.exec()) ?? [];
        const failed = results.find(([error]) => error !== null);
        if (failed !== undefined) throw failed[0];
      },
    };
  }

  classify(error: unknown): FailureKind {
    if (!(error instanceof Error) || error.name === 'ReplyError') return undefined;
    // Refused before writing: the offline queue is off, or the cluster is not ready.
    if (/enableOfflineQueue|isn't ready|is ended/.test(error.message)) return 'unavailable';
    // Written, then the connection dropped (flushed at once: maxRetriesPerRequest 0).
    if (
      error.name === 'MaxRetriesPerRequestError' ||
      error.name === 'AbortError' ||
      error.message === 'Connection is closed.'
    ) {
      return 'disconnected';
    }
    return undefined;
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const [target, event, listener] of this.#listeners) target.off(event, listener);
    await Promise.all(this.#subscribers.map((subscription) => subscription.close()));
    // Still listened to until it is gone: an 'error' while quitting must not go unhandled.
    const conn = this.#conn as Connection & EventEmitter;
    conn.on('error', noop);
    if (conn.status === 'end') return;
    const ended = new Promise<void>((resolve) => conn.once('end', () => resolve()));
    if (conn.status === 'ready' && timeoutMs > 0) {
      // QUIT lets commands already sent finish; 'end' is when the socket is gone.
      const quit = conn.quit().then(
        () => ended.then(() => true),
        () => false,
      );
      if (await Promise.race([quit, delay(timeoutMs).then(() => false)])) return;
    }
    // Between reconnection attempts there is no socket left: disconnect() only
    // cancels the next attempt, and no 'end' follows.
    const live = conn.status === 'connecting' || conn.status === 'connect' || conn.status === 'ready';
    conn.disconnect();
    if (live) await Promise.race([ended, delay(Math.max(timeoutMs, 100))]);
  }
}
