/**
 * Options of one {@link SingleFlight} call.
 *
 * @example
 * ```ts
 * const report = await flight(`report:${id}`, (signal) => buildReport(id, { signal }), { signal: request.signal });
 * ```
 */
export interface SingleFlightOptions {
  /**
   * This caller's abort signal. When it aborts, this call stops waiting at once and
   * rejects with `signal.reason`; the computation goes on for the other callers.
   * Default: none (the call waits until the computation settles).
   *
   * @default none (the call waits until the computation settles)
   */
  signal?: AbortSignal | undefined;
}

/**
 * A group of in-flight computations keyed by string; see {@link singleFlight}.
 *
 * @example
 * ```ts
 * const flight: SingleFlight<Report> = singleFlight();
 * const report = await flight(`report:${id}`, () => buildReport(id));
 * ```
 */
export interface SingleFlight<T> {
  /**
   * Runs `compute` for `key`, unless a computation for `key` is already running: then
   * waits for that one and shares its outcome (value or error).
   *
   * `compute` receives a signal of the computation's own that aborts only once every
   * caller waiting for it has aborted (never while a caller without a signal waits).
   */
  (key: string, compute: (signal: AbortSignal) => Promise<T>, options?: SingleFlightOptions): Promise<T>;
  /** The promise of the computation running for `key`, if any. */
  pending(key: string): Promise<T> | undefined;
  /** How many keys are being computed right now. */
  readonly size: number;
}

interface Waiter<T> {
  compute: (signal: AbortSignal) => Promise<T>;
  signal: AbortSignal | undefined;
}

interface Flight<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
  /** The callers still waiting that have not aborted, in arrival order. */
  live: Set<Waiter<T>>;
  /** Aborts the computation's signal once `live` is empty. */
  controller: AbortController;
}

const ignore = () => {};

/**
 * Makes a single-flight group: concurrent calls with the same key run `compute`
 * once and all get its result. An error is shared by the calls that waited for it
 * but not kept: the next call after it settles computes again.
 *
 * Cancellation is per caller: a caller whose `signal` aborts stops waiting at once
 * (rejecting with its own abort reason) while the others keep waiting, and the
 * signal `compute` receives aborts only when every caller has given up.
 *
 * A computation may also observe the signal of the caller that started it rather
 * than the one it is given (a tRPC resolver, for one, always sees its own
 * request's signal). So when a computation fails after its starting caller
 * aborted, the error is not handed to the others, which may be its own
 * cancellation: the earliest caller still waiting runs its own `compute` instead,
 * and the rest wait for that one.
 *
 * @example
 * ```ts
 * const flight = singleFlight<User>();
 * // 50 concurrent requests for user 7 → one database query
 * const user = await flight('user:7', () => db.users.find(7));
 *
 * // cancellable: the upstream request is aborted only when every caller has left
 * const post = await flight(`post:${id}`, (signal) => fetchPost(id, { signal }), { signal: req.signal });
 * ```
 */
export function singleFlight<T>(): SingleFlight<T> {
  const running = new Map<string, Flight<T>>();

  /** Forgets the flight before any waiter resumes: an error is never kept. */
  const forget = (key: string, flight: Flight<T>) => {
    if (running.get(key) === flight) running.delete(key);
  };

  const runFor = (key: string, flight: Flight<T>, waiter: Waiter<T>): void => {
    let computing: Promise<T>;
    try {
      computing = waiter.compute(flight.controller.signal);
    } catch (error) {
      computing = Promise.reject(error);
    }
    computing.then(
      (value) => {
        forget(key, flight);
        flight.resolve(value);
      },
      (error: unknown) => {
        if (waiter.signal?.aborted) {
          const successor = flight.live.values().next().value;
          if (successor !== undefined) {
            runFor(key, flight, successor);
            return;
          }
        }
        forget(key, flight);
        flight.reject(error);
      },
    );
  };

  const start = (key: string, waiter: Waiter<T>): Flight<T> => {
    let resolve!: (value: T) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<T>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    // Every caller may have left: an unobserved failure must not be an unhandled rejection.
    promise.catch(ignore);
    const flight: Flight<T> = {
      promise,
      resolve,
      reject,
      live: new Set([waiter]),
      controller: new AbortController(),
    };
    running.set(key, flight);
    runFor(key, flight, waiter);
    return flight;
  };

  const run = (
    key: string,
    compute: (signal: AbortSignal) => Promise<T>,
    options?: SingleFlightOptions,
  ): Promise<T> => {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const waiter: Waiter<T> = { compute, signal };
    let flight = running.get(key);
    // A computation every caller has abandoned may be winding down on its aborted signal.
    if (flight === undefined || flight.controller.signal.aborted) flight = start(key, waiter);
    else flight.live.add(waiter);
    return signal === undefined ? flight.promise : waitUnlessAborted(flight, waiter, signal);
  };

  return Object.defineProperties(run as SingleFlight<T>, {
    pending: { value: (key: string) => running.get(key)?.promise },
    size: { get: () => running.size },
  });
}

/** The flight's outcome, or this caller's abort reason as soon as its signal aborts. */
function waitUnlessAborted<T>(flight: Flight<T>, waiter: Waiter<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      flight.live.delete(waiter);
      if (flight.live.size === 0) flight.controller.abort(signal.reason);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    flight.promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
