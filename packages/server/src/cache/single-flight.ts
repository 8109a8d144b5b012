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
   */
  (key: string, compute: () => Promise<T>): Promise<T>;
  /** The promise of the computation running for `key`, if any. */
  pending(key: string): Promise<T> | undefined;
  /** How many keys are being computed right now. */
  readonly size: number;
}

/**
 * Makes a single-flight group: concurrent calls with the same key run `compute`
 * once and all get its result. An error is shared by the calls that waited for it
 * but not kept: the next call after it settles computes again.
 *
 * @example
 * ```ts
 * const flight = singleFlight<User>();
 * // 50 concurrent requests for user 7 → one database query
 * const user = await flight('user:7', () => db.users.find(7));
 * ```
 */
export function singleFlight<T>(): SingleFlight<T> {
  const running = new Map<string, Promise<T>>();
  const run = (key: string, compute: () => Promise<T>): Promise<T> => {
    const existing = running.get(key);
    if (existing !== undefined) return existing;
    let computing: Promise<T>;
    try {
      computing = compute();
    } catch (error) {
      return Promise.reject(error);
    }
    // Forgotten as soon as it settles, before any waiter resumes: an error is never kept.
    const promise = computing.finally(() => running.delete(key));
    running.set(key, promise);
    return promise;
  };
  return Object.defineProperties(run as SingleFlight<T>, {
    pending: { value: (key: string) => running.get(key) },
    size: { get: () => running.size },
  });
}
