import type { CacheBackend, FlightCoordinator, FlightTurn } from '../backends/types.js';
import { coreOf, storeBehind } from './cache-internals.js';
import { type Flight, localFlight, storedHit } from './memoizer.js';

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
  return storeBehind(backend).flights ?? backend.flights;
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
 * Distributed single-flight, as a memoizer {@link Flight}: in-process
 * single-flight first (one call per process goes on), then across processes
 * through the backend's lock (check → lock → re-check → compute → store →
 * release), when the backend has one ({@link flightsOf}); without one it is
 * plain in-process single-flight.
 *
 * The call that goes on:
 * 1. takes the key's lock; when the store cannot be reached, computes at once
 *    (in-process single-flight still holds) and reports it (`onError`, `'lock'`);
 * 2. holding it: `compute` (which reads once more, since a holder that just
 *    finished may have stored the entry, then runs and stores), then releases,
 *    which wakes the waiters in every process;
 * 3. not holding it: waits for the holder's announcement (or the poll), reads,
 *    and when no fresh entry is there (the holder failed, crashed, or is still
 *    computing) starts over at 1. A resolver error is thus never shared across
 *    processes: it wakes the waiters, and the next one computes.
 */
export function distributedFlight(options: DistributedFlightOptions): Flight {
  const local = localFlight();
  return {
    run: (cache, key, compute, signal, alternateKey) =>
      local.run(
        cache,
        key,
        async (flightSignal) => {
          const core = coreOf(cache);
          const flights = flightsOf(core.backend);
          if (flights === undefined) return compute(flightSignal);
          const full = core.full(key);
          for (;;) {
            let turn: FlightTurn;
            try {
              turn = await flights.acquire(full, { ttl: options.lockTtl, poll: options.poll });
            } catch (error) {
              core.report('lock', full, error);
              return compute(flightSignal);
            }
            if (turn.held) {
              try {
                return await compute(flightSignal);
              } finally {
                // Never rejects; nobody needs to wait for it.
                void turn.release();
              }
            }
            await unlessAborted(turn.released, flightSignal);
            const found =
              (await core.readStored(key)) ??
              (alternateKey === undefined ? undefined : await core.readStored(alternateKey));
            // An entry stored dead (its tag was invalidated while it was computed) is no answer.
            const hit = await storedHit(cache, found);
            if (hit !== undefined) return hit;
          }
        },
        signal,
      ),
  };
}
