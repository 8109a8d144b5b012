/**
 * Distributed single-flight on Redis: one lock per key shared by every process on
 * the same Redis (or Cluster), so that concurrent cold calls for a key run its
 * computation once across all of them.
 *
 * - **Lock**: `SET <lock> <random token> NX PX <ttl>`. Only its holder releases it,
 *   with a script that deletes the lock only while it still holds the holder's
 *   token (a holder that outlived its TTL must not delete a successor's lock).
 *   A holder that crashes, or computes for longer than the TTL, blocks nobody
 *   past it: the lock expires and the next waiter takes it.
 * - **Announcement**: the same script publishes the lock's name on one channel
 *   per key prefix, in the same round trip. Waiters listen on one subscriber
 *   connection per backend (subscribed once, re-subscribed after reconnecting)
 *   and register for a lock *before* asking for it, so an announcement that
 *   overtakes the reply to their `SET NX` is not lost. Messages carry lock names,
 *   never values. When the subscription is first acknowledged, every waiter
 *   looks again (an announcement made before it was missed).
 * - **Poll**: a waiter also looks again after `poll` seconds when no announcement
 *   came (the subscriber was reconnecting, the holder died): announcements make
 *   waiting fast, the poll makes it bounded.
 *
 * On a Cluster the lock lives in the entry's hash slot (so on the entry's master)
 * whenever the key allows: `{<the entry's hash tag>}flight:<key>`. The channel is
 * an ordinary (keyspace-independent) pub/sub channel, which a Cluster delivers to
 * subscribers on any node.
 */

import type { RedisConnection, Subscription } from './redis-connection.js';
import type { AcquireOptions, FlightCoordinator, FlightTurn } from './types.js';

/** Deletes the lock only while it holds our token, then announces it on the channel. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
redis.call('publish', ARGV[2], ARGV[3])
return 1`;

/** The part of a key Redis Cluster hashes to pick its slot: the first non-empty `{…}`, else the whole key. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  return close === -1 || close === open + 1 ? key : key.slice(open + 1, close);
}

/**
 * The lock of the entry stored under `key`, as given to a client that writes
 * `keyPrefix` in front of every key. In the entry's slot unless `keyPrefix`
 * holds a `{` or the entry's hash tag a `}` (then it hashes on its own: the lock
 * works the same, on another master).
 */
export function lockKeyOf(keyPrefix: string, key: string): string {
  const tag = hashTagOf(keyPrefix + key);
  if (keyPrefix.includes('{') || tag.includes('}') || tag === '') return `flight:${key}`;
  return `{${tag}}flight:${key}`;
}

type Run = <T>(send: (signal: AbortSignal | undefined) => Promise<T>) => Promise<T>;

function milliseconds(seconds: number): number {
  return Math.max(1, Math.round(seconds * 1000));
}

/** The {@link FlightCoordinator} of a `RedisBackend`. */
export class RedisFlights implements FlightCoordinator {
  readonly #conn: RedisConnection;
  /** The backend's gated, deadline-bound command runner (writes: abortable). */
  readonly #run: Run;
  readonly #channel: string;
  /** Local waiters per lock name, woken by its announcement. */
  readonly #waiting = new Map<string, Set<() => void>>();
  #subscription: Subscription | undefined;

  constructor(conn: RedisConnection, run: Run) {
    this.#conn = conn;
    this.#run = run;
    this.#channel = `trpc-memory:flights:${conn.keyPrefix}`;
  }

  async acquire(key: string, options: AcquireOptions): Promise<FlightTurn> {
    const lock = lockKeyOf(this.#conn.keyPrefix, key);
    const token = globalThis.crypto.randomUUID();
    // Registered before asking, see the module comment.
    let wake!: () => void;
    const released = new Promise<void>((resolve) => (wake = resolve));
    const waiters = this.#waiting.get(lock) ?? new Set();
    waiters.add(wake);
    this.#waiting.set(lock, waiters);
    const forget = () => {
      waiters.delete(wake);
      if (waiters.size === 0 && this.#waiting.get(lock) === waiters) this.#waiting.delete(lock);
    };
    let taken: boolean;
    try {
      taken = await this.#run((signal) =>
        this.#conn.setIfAbsent(lock, token, milliseconds(options.ttl), signal),
      );
    } catch (error) {
      forget();
      throw error;
    }
    // Connected (the command went through): from now on announcements reach us.
    this.#subscribe();
    if (taken) {
      forget();
      return { held: true, release: () => this.#release(lock, token) };
    }
    const timer = setTimeout(wake, milliseconds(options.poll));
    (timer as { unref?: () => void }).unref?.();
    void released.then(() => {
      clearTimeout(timer);
      forget();
    });
    return { held: false, released };
  }

  async #release(lock: string, token: string): Promise<void> {
    try {
      await this.#run((signal) => this.#conn.evalOnKey(RELEASE, lock, [token, this.#channel, lock], signal));
    } catch {
      // Redis unreachable: the lock ends with its TTL, and waiters look again every `poll`.
    }
  }

  #subscribe(): void {
    if (this.#subscription !== undefined) return;
    const subscription = this.#conn.subscribe(this.#channel, (lock) => {
      const waiters = this.#waiting.get(lock);
      if (waiters === undefined) return;
      for (const wake of waiters) wake();
    });
    this.#subscription = subscription;
    subscription.ready.then(
      () => {
        // Announcements made before it was subscribed are lost: whoever waits looks again now.
        for (const waiters of this.#waiting.values()) for (const wake of waiters) wake();
      },
      () => {
        // A subscription that could not be made is made again by a later acquire.
        if (this.#subscription === subscription) this.#subscription = undefined;
        void subscription.close();
      },
    );
  }
}
