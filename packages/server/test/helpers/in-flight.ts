/**
 * What a test's computation waits on instead of a delay. A resolver that must
 * still be running while other calls join it waits on a {@link Gate}, and the
 * test opens it once the event it needs has happened (every call is waiting, an
 * abort has been seen), so no outcome depends on how fast the machine is.
 */
import type { CacheBackend, MaybePromise } from '../../src/backends/types.js';
import { until } from './time.js';

export interface Gate {
  /** Resolves when the test calls {@link Gate.open}. */
  readonly opened: Promise<void>;
  open(): void;
}

/**
 * A promise the test settles.
 *
 * @example
 * ```ts
 * const upstream = gate();
 * const load = async () => { await upstream.opened; return 'value'; };
 * const calls = Promise.all([load(), load()]);
 * upstream.open();
 * ```
 */
export function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/**
 * Resolves with `value` once `gate` opens, or rejects with `signal`'s reason
 * when it aborts first: an upstream request that honours the call's signal.
 */
export function through<T>(gate: Gate, value: T, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    void gate.opened.then(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(value);
    });
  });
}

/** A backend that counts its reads still in flight. */
export type WatchedBackend = CacheBackend & {
  close(): MaybePromise<void>;
  readonly readsInFlight: number;
};

/**
 * `backend` with a count of the reads it has not answered yet. When every call
 * of a test has started, its computation is running and no read is in flight,
 * each call is waiting on that computation (joining a flight takes only
 * microtasks after a read, and `until` checks between macrotasks).
 */
export function watchReads(backend: CacheBackend): WatchedBackend {
  let readsInFlight = 0;
  return {
    name: backend.name,
    get readsInFlight() {
      return readsInFlight;
    },
    async get(key) {
      readsInFlight++;
      try {
        return await backend.get(key);
      } finally {
        readsInFlight--;
      }
    },
    set: (key, value, ttl) => backend.set(key, value, ttl),
    delete: (key) => backend.delete(key),
    deleteByPrefix: (prefix) => backend.deleteByPrefix(prefix),
    close: () => backend.close?.(),
  };
}

/**
 * Resolves once `calls` calls have started (`arrived()`), their computations
 * have started at least `runs` times (`started()`) and `backend` has no read in
 * flight: every other call is then waiting on a running computation (or on what
 * one will tell it), which the test may now let finish.
 */
export function untilJoined(
  backend: WatchedBackend,
  arrived: () => number,
  calls: number,
  started: () => number,
  runs = 1,
): Promise<void> {
  return until(() => arrived() === calls && started() >= runs && backend.readsInFlight === 0, {
    what: `${calls} calls waiting on ${runs} running computation(s)`,
  });
}
