/**
 * What `TieredBackend` uses of a `RedisBackend` beyond the `CacheBackend`
 * methods, kept off the public class: reached through this module only.
 */
import type { RedisClient } from './redis-clients.js';

export interface RedisInternals {
  /** The client to duplicate for a connection of one's own (the app's, or the one made from a URL). */
  readonly client: RedisClient;
  /** A Cluster: one connection's commands may go to different nodes, in no common order. */
  readonly cluster: boolean;
  /**
   * `GET` and `PTTL` of `key`, sent together (one round trip, same node): the
   * string (`undefined` when absent) and the milliseconds it has left (`-1`: no
   * expiry). Through the backend's gate, deadline and cooldown.
   */
  getWithTtl(key: string): Promise<[raw: string | undefined, ttlMs: number]>;
  /** `PUBLISH` through the backend's gate, deadline and cooldown. */
  publish(channel: string, message: string): Promise<void>;
}

const registry = new WeakMap<object, RedisInternals>();

export function registerInternals(backend: object, internals: RedisInternals): void {
  registry.set(backend, internals);
}

/** `undefined` for anything but a `RedisBackend` of this copy of the package. */
export function internalsOf(backend: unknown): RedisInternals | undefined {
  return typeof backend === 'object' && backend !== null ? registry.get(backend) : undefined;
}
