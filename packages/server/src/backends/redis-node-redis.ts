/**
 * node-redis v5 under `RedisBackend`. Like with ioredis, the backend sends its
 * commands over a connection of its own, duplicated from your client or cluster
 * (same URL, credentials, TLS, RESP version) with `disableOfflineQueue: true`:
 * node-redis otherwise keeps commands not yet written across a reconnection and
 * writes them afterwards. With it off, a socket error rejects every command of
 * that connection at once — written ones included, which node-redis never
 * re-sends. Writes also carry an abort signal the backend fires when it gives up
 * on them, so one still waiting to be written (a cluster node still connecting)
 * is dropped rather than written late.
 */
import type { EventEmitter } from 'node:events';
import type { NodeRedisClient } from './redis-clients.js';
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

interface CommandOptions {
  abortSignal?: AbortSignal;
}

/** The part of a node-redis v5 client the backend uses (typed here: `redis` is an optional peer). */
/** What subscribing needs of a node-redis client or cluster. */
interface Subscriber extends EventEmitter {
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  destroy(): void;
}

interface NodeClient extends EventEmitter {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  sendCommand(args: string[], options?: CommandOptions): Promise<unknown>;
  duplicate(overrides: object): NodeClient;
  close?(): Promise<void>;
  quit?(): Promise<unknown>;
  destroy(): void;
}

interface NodeCluster extends EventEmitter {
  readonly isOpen: boolean;
  readonly masters: object[];
  readonly options?: { defaults?: object };
  readonly _options?: { defaults?: object };
  connect(): Promise<unknown>;
  sendCommand(
    firstKey: string,
    isReadonly: boolean,
    args: string[],
    options?: CommandOptions,
  ): Promise<unknown>;
  nodeClient(node: object): NodeClient | Promise<NodeClient>;
  duplicate(overrides: object): NodeCluster;
  close?(): Promise<void>;
  quit?(): Promise<unknown>;
  destroy(): void;
}

/** No offline queue; the app's command options (type mapping, timeout) are not ours. */
const SAFE_CLIENT_OPTIONS = { disableOfflineQueue: true, commandOptions: undefined };

const CLIENT_GONE = /^The client is (offline|closed)$|root nodes are unavailable|Cluster closed/;

function isReplyError(error: Error): boolean {
  // node-redis replies with ErrorReply subclasses; told by name, as the app may hold another copy.
  for (let proto = Object.getPrototypeOf(error); proto !== null; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'ErrorReply') return true;
  }
  return false;
}

function master(client: NodeClient, cluster: boolean): MasterNode {
  return {
    scan: (cursor, pattern, count) =>
      client.sendCommand(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(count)]) as Promise<
        [string, string[]]
      >,
    async unlink(keys, signal) {
      const options = signal === undefined ? undefined : { abortSignal: signal };
      // A multi-key UNLINK must stay within one hash slot: one command per key on a
      // cluster (node-redis writes those of one tick together).
      if (!cluster) await client.sendCommand(['UNLINK', ...keys], options);
      else await Promise.all(keys.map((key) => client.sendCommand(['UNLINK', key], options)));
    },
  };
}

/** Closes a node-redis client or cluster: gracefully within `timeoutMs`, else at once. */
async function shut(conn: NodeClient | NodeCluster, timeoutMs: number): Promise<void> {
  conn.on('error', noop);
  if (!conn.isOpen) return;
  const graceful = conn.close?.() ?? conn.quit?.();
  if (graceful !== undefined && timeoutMs > 0) {
    const done = await Promise.race([
      graceful.then(
        () => true,
        () => false,
      ),
      delay(timeoutMs).then(() => false),
    ]);
    if (done) return;
  }
  graceful?.catch(noop);
  if (conn.isOpen) conn.destroy();
}

abstract class NodeRedisConnection implements RedisConnection {
  readonly abortable = true;
  readonly keyPrefix = '';
  readonly client: NodeRedisClient;
  /** On a cluster, pub/sub is sharded (`SPUBLISH`, routed by the channel's slot). */
  protected abstract readonly sharded: boolean;
  protected readonly events: ConnectionEvents;
  readonly #listeners: [target: EventEmitter, event: string, listener: (arg?: unknown) => void][] = [];
  protected down = false;
  protected closing = false;
  #lastError: unknown;
  #subscribers: Subscription[] = [];

  constructor(client: NodeRedisClient, events: ConnectionEvents) {
    this.client = client;
    this.events = events;
  }

  /**
   * node-redis hands out proxies (`Object.create(client)`) and emits on the
   * client underneath (`_self`): listening on the proxy works until a listener
   * is removed, which gives the proxy an event table of its own.
   */
  protected listen(target: EventEmitter, event: string, listener: (arg?: unknown) => void): void {
    const emitter = (target as { _self?: EventEmitter })._self ?? target;
    emitter.on(event, listener);
    this.#listeners.push([emitter, event, listener]);
  }

  protected fail(error: unknown): void {
    this.#lastError = error;
  }

  lastError(): unknown {
    return this.#lastError;
  }

  protected ready(): void {
    this.down = false;
    this.#lastError = undefined;
    this.events.ready();
  }

  protected lost(): void {
    if (this.down) return;
    this.down = true;
    this.events.down(this.#lastError);
  }

  abstract state(): ConnectionState;
  abstract connect(): void;
  abstract masters(): Promise<MasterNode[]>;
  protected abstract shut(timeoutMs: number): Promise<void>;
  /** Sends one single-key command where `key` lives. */
  protected abstract send(
    key: string,
    readonly: boolean,
    args: string[],
    options?: CommandOptions,
  ): Promise<unknown>;

  get(key: string): Promise<string | null> {
    return this.send(key, true, ['GET', key]) as Promise<string | null>;
  }

  set(
    key: string,
    value: string,
    ttlMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const args = ttlMs === undefined ? ['SET', key, value] : ['SET', key, value, 'PX', String(ttlMs)];
    return this.send(key, false, args, signal && { abortSignal: signal });
  }

  unlink(key: string, signal: AbortSignal | undefined): Promise<unknown> {
    return this.send(key, false, ['UNLINK', key], signal && { abortSignal: signal });
  }

  async setIfAbsent(
    key: string,
    value: string,
    ttlMs: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const args = ['SET', key, value, 'PX', String(ttlMs), 'NX'];
    return (await this.send(key, false, args, signal && { abortSignal: signal })) !== null;
  }

  evalOnKey(script: string, key: string, args: string[], signal: AbortSignal | undefined): Promise<unknown> {
    return this.send(key, false, ['EVAL', script, '1', key, ...args], signal && { abortSignal: signal });
  }

  /** A duplicate of our connection for pub/sub, with the offline queue on (SUBSCRIBE is idempotent). */
  protected abstract subscriberConnection(): Subscriber;

  subscribe(channel: string, onMessage: (message: string) => void): Subscription {
    const sub = this.subscriberConnection();
    sub.on('error', noop);
    const ready = sub.connect().then(() => sub.subscribe(channel, onMessage).then(noop));
    ready.catch(noop);
    const subscription: Subscription = {
      ready,
      close: async () => {
        this.#subscribers = this.#subscribers.filter((other) => other !== subscription);
        // node-redis ends a connection still connecting only once it settles.
        ready.then(() => sub.isOpen && sub.destroy(), noop).catch(noop);
        if (sub.isOpen) sub.destroy();
      },
    };
    this.#subscribers.push(subscription);
    return subscription;
  }

  async pttl(key: string): Promise<number> {
    return Number(await this.send(key, true, ['PTTL', key]));
  }

  publish(channel: string, message: string, signal: AbortSignal | undefined): Promise<unknown> {
    const command = this.sharded ? 'SPUBLISH' : 'PUBLISH';
    return this.send(channel, false, [command, channel, message], signal && { abortSignal: signal });
  }

  classify(error: unknown): FailureKind {
    if (!(error instanceof Error) || isReplyError(error) || error instanceof TypeError) return undefined;
    // Refused before writing (offline, closed), or dropped unwritten by our abort signal.
    if (CLIENT_GONE.test(error.message) || error.name === 'AbortError') return 'unavailable';
    // A socket error flushed it: it was written (or about to be), and is never re-sent.
    return 'disconnected';
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const [target, event, listener] of this.#listeners) target.off(event, listener);
    await Promise.all(this.#subscribers.map((subscription) => subscription.close()));
    await this.shut(timeoutMs);
  }
}

export class NodeRedisClientConnection extends NodeRedisConnection {
  protected readonly sharded = false;
  readonly #conn: NodeClient;
  #started = false;

  constructor(client: NodeRedisClient, events: ConnectionEvents) {
    super(client, events);
    const conn = (client as unknown as NodeClient).duplicate(SAFE_CLIENT_OPTIONS);
    this.#conn = conn;
    this.listen(conn, 'ready', () => this.ready());
    // Emitted once the socket is already marked not ready, before node-redis flushes its queue.
    this.listen(conn, 'error', (error) => {
      this.fail(error);
      if (!conn.isReady) this.lost();
    });
    this.listen(conn, 'reconnecting', () => this.lost());
    this.listen(conn, 'end', () => {
      if (!this.closing) events.ended();
    });
    // Your client closed (at shutdown): ours must not keep the process alive.
    this.listen(client as unknown as NodeClient, 'end', () => {
      void this.close(0).then(() => events.ended());
    });
    this.connect();
  }

  state(): ConnectionState {
    if (this.closing || (this.#started && !this.#conn.isOpen)) return 'ended';
    if (this.#conn.isReady) return 'ready';
    return this.down ? 'down' : 'connecting';
  }

  connect(): void {
    if (this.#started) return;
    this.#started = true;
    // Rejects only when the reconnect strategy gives up ('error' and 'end' tell the rest).
    this.#conn.connect().catch(noop);
  }

  protected send(
    _key: string,
    _readonly: boolean,
    args: string[],
    options?: CommandOptions,
  ): Promise<unknown> {
    return this.#conn.sendCommand(args, options);
  }

  async masters(): Promise<MasterNode[]> {
    return [master(this.#conn, false)];
  }

  protected subscriberConnection(): Subscriber {
    return this.#conn.duplicate({ disableOfflineQueue: false }) as unknown as Subscriber;
  }

  protected shut(timeoutMs: number): Promise<void> {
    return shut(this.#conn, timeoutMs);
  }
}

export class NodeRedisClusterConnection extends NodeRedisConnection {
  protected readonly sharded = true;
  readonly #conn: NodeCluster;
  #connected = false;
  #connecting: Promise<void> | undefined;
  #attempts = 0;

  constructor(client: NodeRedisClient, events: ConnectionEvents) {
    super(client, events);
    const cluster = client as unknown as NodeCluster;
    // The node clients take the cluster's `defaults`: merge, or credentials and TLS would be lost.
    const defaults = (cluster.options ?? cluster._options)?.defaults;
    const conn = cluster.duplicate({
      ...SAFE_CLIENT_OPTIONS,
      defaults: { ...defaults, disableOfflineQueue: true },
    });
    this.#conn = conn;
    this.listen(conn, 'error', (error) => this.fail(error));
    this.listen(conn, 'node-error', (error) => this.fail(error));
    this.listen(conn, 'disconnect', () => {
      if (!this.closing) events.ended();
    });
    this.listen(cluster, 'disconnect', () => {
      void this.close(0).then(() => events.ended());
    });
    this.connect();
  }

  state(): ConnectionState {
    if (this.closing) return 'ended';
    if (this.#connected) return 'ready';
    return this.down ? 'down' : 'connecting';
  }

  /**
   * node-redis gives up on a cluster whose root nodes do not answer at
   * `connect()`: keep trying, backing off up to 2 s, as its node clients do.
   */
  connect(): void {
    if (this.#connected || this.#connecting !== undefined || this.closing) return;
    this.#connecting = this.#conn.connect().then(
      () => {
        this.#connecting = undefined;
        this.#attempts = 0;
        if (this.closing) {
          void shut(this.#conn, 0);
          return;
        }
        this.#connected = true;
        this.ready();
      },
      async (error: unknown) => {
        this.fail(error);
        this.lost();
        await delay(Math.min(50 * 2 ** this.#attempts++, 2000));
        this.#connecting = undefined;
        this.connect();
      },
    );
  }

  protected send(key: string, readonly: boolean, args: string[], options?: CommandOptions): Promise<unknown> {
    return this.#conn.sendCommand(key, readonly, args, options);
  }

  async masters(): Promise<MasterNode[]> {
    const clients = await Promise.all(this.#conn.masters.map((node) => this.#conn.nodeClient(node)));
    return clients.map((client) => master(client, true));
  }

  protected subscriberConnection(): Subscriber {
    const defaults = (this.#conn.options ?? this.#conn._options)?.defaults;
    return this.#conn.duplicate({
      defaults: { ...defaults, disableOfflineQueue: false },
    }) as unknown as Subscriber;
  }

  protected shut(timeoutMs: number): Promise<void> {
    // A connect() still under way shuts the cluster itself once it settles.
    return shut(this.#conn, timeoutMs);
  }
}
