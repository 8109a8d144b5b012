/**
 * A pub/sub subscriber connection of its own, duplicated from the client a
 * `RedisBackend` uses (same host, credentials, TLS; the app's connection is
 * never put in subscriber mode). It reports what it can see of its own health;
 * what it cannot see (a subscription lost without the connection closing) is
 * the caller's to detect (the bus probes itself, see `tiered-bus.ts`).
 */
import type { EventEmitter } from 'node:events';
import { UnsupportedUseError } from '../errors.js';
import { clientKind, type RedisClient } from './redis-clients.js';
import { noop } from './redis-connection.js';

export interface SubscriberEvents {
  /** A message on the channel. */
  message(text: string): void;
  /** The connection dropped: messages published from now on may be missed. */
  down(error?: unknown): void;
  /** (Re)subscribed, as far as the client can tell. */
  subscribed(): void;
}

export interface Subscriber {
  close(): Promise<void>;
}

interface IoredisSubscriber extends EventEmitter {
  status: string;
  subscribe(channel: string): Promise<unknown>;
  connect(): Promise<void>;
  disconnect(): void;
}

interface NodeRedisSubscriber extends EventEmitter {
  readonly isOpen: boolean;
  readonly isReady?: boolean;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  sSubscribe(channel: string, listener: (message: string) => void): Promise<void>;
  destroy(): void;
}

/** ioredis `Redis`: subscribes on every `ready` itself (no autoResubscribe), so it knows when. */
function ioredisSubscriber(client: RedisClient, channel: string, events: SubscriberEvents): Subscriber {
  const sub = (client as unknown as { duplicate(options: object): IoredisSubscriber }).duplicate({
    autoResubscribe: false,
    enableOfflineQueue: false,
    lazyConnect: true,
    // A subscriber cut off must not turn into a failed SUBSCRIBE retried on its own.
    maxRetriesPerRequest: 0,
  });
  return followIoredis(sub, channel, events, () => sub.subscribe(channel), 'message', ['error']);
}

/**
 * ioredis `Cluster`: sharded pub/sub (`SSUBSCRIBE`) through ioredis' sharded
 * subscribers, which follow the channel's slot to its current master.
 */
function ioredisClusterSubscriber(
  client: RedisClient,
  channel: string,
  events: SubscriberEvents,
): Subscriber {
  const cluster = client as unknown as {
    options: object;
    duplicate(
      nodes: unknown[],
      options: object,
    ): IoredisSubscriber & { ssubscribe(channel: string): Promise<unknown> };
  };
  if (!('shardedSubscribers' in cluster.options)) {
    throw new UnsupportedUseError(
      'TieredBackend on an ioredis Cluster uses sharded pub/sub (SSUBSCRIBE), which this ioredis version does not support: upgrade ioredis (6 has it) or use a node-redis cluster',
    );
  }
  const sub = cluster.duplicate([], {
    shardedSubscribers: true,
    enableOfflineQueue: true,
    lazyConnect: true,
  });
  // A Cluster reports a failing node as 'node error'.
  return followIoredis(sub, channel, events, () => sub.ssubscribe(channel), 'smessage', [
    'error',
    'node error',
  ]);
}

/**
 * Wires an ioredis subscriber (single node or Cluster) to `events`: subscribes on
 * every `ready` (so it knows when it is subscribed), reports a close it did not
 * ask for as `down` with the last error seen, and connects.
 */
function followIoredis(
  sub: IoredisSubscriber,
  channel: string,
  events: SubscriberEvents,
  subscribe: () => Promise<unknown>,
  messageEvent: 'message' | 'smessage',
  errorEvents: readonly string[],
): Subscriber {
  let closed = false;
  let lastError: unknown;
  for (const event of errorEvents) sub.on(event, (error: unknown) => (lastError = error));
  sub.on('close', () => {
    if (!closed) events.down(lastError);
  });
  sub.on('ready', () => {
    subscribe().then(
      () => events.subscribed(),
      (error: unknown) => events.down(error),
    );
  });
  sub.on(messageEvent, (from: string, text: string) => {
    if (from === channel) events.message(text);
  });
  sub.connect().catch(noop);
  return {
    async close() {
      closed = true;
      sub.disconnect();
    },
  };
}

/**
 * node-redis client (`SUBSCRIBE`) or cluster (sharded, `SSUBSCRIBE`): node-redis
 * re-subscribes by itself after reconnecting, and follows a moved slot.
 */
function nodeRedisSubscriber(
  client: RedisClient,
  channel: string,
  sharded: boolean,
  events: SubscriberEvents,
): Subscriber {
  const sub = (client as unknown as { duplicate(): NodeRedisSubscriber }).duplicate();
  let closed = false;
  let subscribed = false;
  const target = (sub as { _self?: EventEmitter })._self ?? sub;
  target.on('error', (error: unknown) => {
    if (!closed) events.down(error);
  });
  target.on('reconnecting', () => {
    if (!closed) events.down();
  });
  target.on('ready', () => {
    if (subscribed && !closed) events.subscribed();
  });
  sub
    .connect()
    .then(() =>
      sharded
        ? sub.sSubscribe(channel, (text) => events.message(text))
        : sub.subscribe(channel, (text) => events.message(text)),
    )
    .then(
      () => {
        subscribed = true;
        if (!closed) events.subscribed();
      },
      (error: unknown) => {
        if (!closed) events.down(error);
      },
    );
  return {
    async close() {
      closed = true;
      target.on('error', noop);
      if (sub.isOpen) sub.destroy();
    },
  };
}

export function openSubscriber(client: RedisClient, channel: string, events: SubscriberEvents): Subscriber {
  switch (clientKind(client)) {
    case 'ioredis':
      return ioredisSubscriber(client, channel, events);
    case 'ioredis-cluster':
      return ioredisClusterSubscriber(client, channel, events);
    case 'node-redis-cluster':
      return nodeRedisSubscriber(client, channel, true, events);
    default:
      return nodeRedisSubscriber(client, channel, false, events);
  }
}
