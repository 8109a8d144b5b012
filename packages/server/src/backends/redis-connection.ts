/**
 * What `RedisBackend` needs from a Redis client library, so that one backend
 * (gate, deadlines, cooldown, clear) serves ioredis and node-redis alike. Each
 * adapter sends the backend's commands over a connection it owns and configured
 * so that a command reported failed is never sent afterwards (see the adapters).
 */

/**
 * `'ready'`: send. `'connecting'`: the first connection is under way (wait for
 * it, bounded by `commandTimeout`). `'down'`: lost or refused, reconnecting by
 * itself (fail at once). `'ended'`: gone for good.
 */
export type ConnectionState = 'ready' | 'connecting' | 'down' | 'ended';

/** How an adapter tells the backend that its connection changed. */
export interface ConnectionEvents {
  ready(): void;
  /** The connection dropped or could not be made; `error` is the client's last error, if known. */
  down(error?: unknown): void;
  /** Gone for good: the app's client was closed, or ours gave up reconnecting. */
  ended(): void;
}

/**
 * How a failed command is reported: `'unavailable'` when it was never sent,
 * `'disconnected'` when the connection dropped with it in flight, `undefined`
 * for an error Redis itself replied (passed on as is).
 */
export type FailureKind = 'unavailable' | 'disconnected' | undefined;

/** One master's share of a `clear()`: SCAN its keys, UNLINK what matched. */
export interface MasterNode {
  scan(cursor: string, pattern: string, count: number): Promise<[cursor: string, keys: string[]]>;
  /** Removes keys exactly as SCAN returned them (with any client key prefix). */
  unlink(keys: string[], signal: AbortSignal | undefined): Promise<void>;
}

export interface RedisConnection {
  /** Whether `set`/`unlink` honour an abort signal (dropping a command not yet written). */
  readonly abortable: boolean;
  /** The prefix the client adds to every key (ioredis `keyPrefix`), as SCAN sees it. */
  readonly keyPrefix: string;
  state(): ConnectionState;
  /** Starts a connection that has not started yet (lazy clients); idempotent. */
  connect(): void;
  get(key: string): Promise<string | null | undefined>;
  /** `ttlMs` omitted: no expiry. */
  set(
    key: string,
    value: string,
    ttlMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown>;
  unlink(key: string, signal: AbortSignal | undefined): Promise<unknown>;
  /** `SET key value NX PX ttlMs`: `true` when set, `false` when the key exists. */
  setIfAbsent(key: string, value: string, ttlMs: number, signal: AbortSignal | undefined): Promise<boolean>;
  /** `EVAL script 1 key ...args`, routed to `key`'s node. */
  evalOnKey(script: string, key: string, args: string[], signal: AbortSignal | undefined): Promise<unknown>;
  /**
   * A connection of its own subscribed to `channel` (made on first call, kept
   * until `close()`, re-subscribed after reconnecting). `ready` settles once the
   * first SUBSCRIBE is acknowledged (rejects when it cannot be).
   */
  subscribe(channel: string, onMessage: (message: string) => void): Subscription;
  /** Milliseconds `key` has left: `-1` without expiry, `-2` when absent. */
  pttl(key: string): Promise<number>;
  /**
   * `PUBLISH` on a single node; sharded `SPUBLISH` on a cluster (sent to the
   * channel's shard, so one publisher's messages stay in order).
   */
  publish(channel: string, message: string, signal: AbortSignal | undefined): Promise<unknown>;
  /** Every master, once the connection is ready. */
  masters(): Promise<MasterNode[]>;
  classify(error: unknown): FailureKind;
  /** Ends the connection the adapter owns (within `timeoutMs`) and stops reporting events. */
  close(timeoutMs: number): Promise<void>;
}

/** A pub/sub subscription of the backend's. */
export interface Subscription {
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** SCAN MATCH is a glob: a prefix must match itself literally, whatever it contains. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Resolves after `ms`, without holding the process open. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export const noop = (): void => {};
