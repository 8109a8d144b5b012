import type { CacheBackend, FlightCoordinator } from '../backends/types.js';

/**
 * How one memorized function coordinates its misses across processes (resolved
 * from `memorize({ distributed })`). Seconds, like every duration of the API.
 */
export interface DistributedFlightOptions {
  /** How long a lock lives when its holder never releases it. */
  lockTtl: number;
  /** How long a waiter waits for the holder's announcement before looking again. */
  poll: number;
}

/**
 * The backend's distributed lock, if it has one: its own `flights`, or those of
 * the store behind a tiered backend (`l2`).
 */
export function flightsOf(backend: CacheBackend): FlightCoordinator | undefined {
  const behind = (backend as { readonly l2?: CacheBackend }).l2;
  return behind?.flights ?? backend.flights;
}

/** Resolves with `promise`, or rejects with the abort reason once `signal` aborts. */
function unlessAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/**
 * The miss path across processes (check → lock → re-check → compute → store →
 * release), run by the one call per process that in-process single-flight lets
 * through:
 *
 * 1. take the key's lock; when the store cannot be reached, `compute` at once
 *    (in-process single-flight still holds) and report it through `onUnavailable`;
 * 2. holding it: read again (a holder that just finished may have stored it),
 *    else `compute` (which stores), then release, which wakes the waiters;
 * 3. not holding it: wait for the holder's announcement (or the poll), read, and
 *    when nothing is there (the holder failed, crashed, or is still computing)
 *    start over at 1. A resolver error is thus never shared across processes:
 *    it wakes the waiters, and the next one computes.
 *
 * `read` resolves `undefined` when no fresh entry is there.
 */
export async function distributedFlight<T>(
  flights: FlightCoordinator,
  key: string,
  options: DistributedFlightOptions,
  read: () => Promise<T | undefined>,
  compute: () => Promise<T>,
  onUnavailable: (error: unknown) => void,
  signal?: AbortSignal,
): Promise<T> {
  for (;;) {
    let turn: Awaited<ReturnType<FlightCoordinator['acquire']>>;
    try {
      turn = await flights.acquire(key, { ttl: options.lockTtl, poll: options.poll });
    } catch (error) {
      onUnavailable(error);
      return compute();
    }
    if (turn.held) {
      try {
        return (await read()) ?? (await compute());
      } finally {
        // Never rejects; the caller need not wait for it.
        void turn.release();
      }
    }
    await unlessAborted(turn.released, signal);
    const found = await read();
    if (found !== undefined) return found;
  }
}
