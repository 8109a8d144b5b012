/**
 * What `memorize` learned about one call, for `cacheHeaders` (the HTTP response)
 * and `invalidates`. Keyed by the call's `getRawInput` function: tRPC hands the same
 * function object to the middleware chain and to `responseMeta` as
 * `info.calls[i].getRawInput`, so it identifies one call of one HTTP request.
 *
 * @internal Not exported from the package entry.
 */
export interface CallReport {
  /**
   * `'hit'` when the answer came from the cache (a call that waited for a
   * concurrent call's computation counts as a hit once that result is stored),
   * `'miss'` when the resolver ran for it.
   */
  source: 'hit' | 'miss';
  /** Whether the answer is in the cache; `false` for a miss whose result could not be stored. */
  stored: boolean;
  /** Absolute expiry of the entry in epoch ms; `undefined` when it never expires (or was not stored). */
  expiresAt: number | undefined;
  /** `'public'` when shared by all callers, `'private'` when partitioned by `scope`. */
  visibility: 'public' | 'private';
  /** The procedure's `expire` in seconds (its static policy). */
  expire: number | undefined;
}

// A symbol property on the function itself rather than a WeakMap entry: it is set on
// every memorized call (the hit path is benchmarked) and a WeakMap insertion costs
// several times more. The WeakMap only serves a function that cannot take properties.
const REPORT: unique symbol = Symbol('trpc-memory.callReport');
const fallback = new WeakMap<object, CallReport>();

export function recordCall(getRawInput: object, report: CallReport): void {
  try {
    (getRawInput as { [REPORT]?: CallReport })[REPORT] = report;
  } catch {
    fallback.set(getRawInput, report);
  }
}

export function readCall(getRawInput: object): CallReport | undefined {
  return (getRawInput as { [REPORT]?: CallReport })[REPORT] ?? fallback.get(getRawInput);
}

/**
 * Set on the middleware function `memorize()` returns; `cachePolicy(router)` finds
 * memorized procedures by walking `procedure._def.middlewares` for it.
 *
 * @internal
 */
export const MEMORIZE_TAG: unique symbol = Symbol.for('trpc-memory.memorize');

/** The static facts `cachePolicy` reads from a tagged middleware. @internal */
export interface MemorizeTag {
  expire: number | undefined;
  namespace: string | undefined;
  visibility: 'public' | 'private';
  /** The cache the middleware uses, when given explicitly. */
  cache: unknown;
}
