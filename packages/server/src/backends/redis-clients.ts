/**
 * The Redis clients `RedisBackend` accepts, described by shape rather than by
 * importing their packages: ioredis and node-redis are both optional peers, and
 * an app using one must not need the other (not even for its types).
 */

/**
 * An ioredis `Redis` or `Cluster` (ioredis 5 or 6, any reply mapping): what the
 * backend reads of it to tell it apart and to open its own connection from it.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * const client: IoredisClient = new Redis(process.env.REDIS_URL!);
 * ```
 */
export interface IoredisClient {
  /** ioredis' connection status (`'ready'`, `'reconnecting'`, `'end'`, …). */
  readonly status: string;
  /** The options the client was made with (the backend copies them for its own connection). */
  readonly options: object;
  /** `true` on an ioredis `Cluster`. */
  readonly isCluster?: boolean;
  duplicate(...args: never[]): unknown;
}

/**
 * A node-redis v5 client (`createClient()`) or cluster (`createCluster()`): what
 * the backend reads of it to tell it apart and to open its own connection from it.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * const client: NodeRedisClient = createClient({ url: process.env.REDIS_URL });
 * ```
 */
export interface NodeRedisClient {
  /** `true` between `connect()` and `close()`/`destroy()`. */
  readonly isOpen: boolean;
  duplicate(...args: never[]): unknown;
  sendCommand(...args: never[]): unknown;
}

/**
 * A client `new RedisBackend()` accepts: an ioredis `Redis` or `Cluster`, or a
 * node-redis v5 client or cluster.
 *
 * @example
 * ```ts
 * const client: RedisClient = createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:7000' }] });
 * const backend = new RedisBackend(client);
 * ```
 */
export type RedisClient = IoredisClient | NodeRedisClient;

/** Which library made a client, told by shape: an app may hold its own copy of either. */
export type ClientKind = 'ioredis' | 'ioredis-cluster' | 'node-redis' | 'node-redis-cluster';

export function clientKind(client: unknown): ClientKind | undefined {
  if (typeof client !== 'object' || client === null) return undefined;
  const candidate = client as Record<string, unknown>;
  if (typeof candidate.duplicate !== 'function') return undefined;
  if (typeof candidate.status === 'string' && typeof candidate.options === 'object') {
    if (candidate.isCluster === true && typeof candidate.nodes === 'function') return 'ioredis-cluster';
    if (typeof candidate.sendCommand === 'function') return 'ioredis';
    return undefined;
  }
  if (typeof candidate.isOpen === 'boolean' && typeof candidate.sendCommand === 'function') {
    // A cluster routes by key and knows its masters; a single client has neither.
    if (typeof candidate.nodeClient === 'function' && 'masters' in candidate) return 'node-redis-cluster';
    if (typeof candidate.isReady === 'boolean') return 'node-redis';
  }
  return undefined;
}
