import { InvalidOptionError, RetryError, UnsupportedUseError } from '../errors.js';

/**
 * What the strategies of {@link retry} see after an attempt failed.
 *
 * @example
 * ```ts
 * retry({ beforeSleep: ({ attempt, error, upcomingSleep }) => log.warn({ attempt, error }, `retrying in ${upcomingSleep} s`) })(fn);
 * ```
 */
export interface RetryState {
  /** 1-based number of the attempt that just failed (1 after the first call). */
  readonly attempt: number;
  /** The error that attempt threw. */
  readonly error: unknown;
  /** Seconds since the first attempt started. */
  readonly elapsed: number;
  /**
   * Seconds the loop is about to sleep before the next attempt. `wait` runs
   * before `stop`, so a stop strategy can refuse a sleep that would overrun a
   * deadline; `0` while `retry` and `wait` themselves run.
   */
  readonly upcomingSleep: number;
}

/**
 * Decides, after a failed attempt, that no further attempt is made.
 *
 * @example
 * ```ts
 * const stopOnTeapot: StopStrategy = ({ error }) => error instanceof TeapotError;
 * retry({ stop: stopAny(stopAfterRetries(3), stopOnTeapot) })(fn);
 * ```
 */
export type StopStrategy = (state: RetryState) => boolean;

/**
 * Seconds to sleep before the next attempt.
 *
 * @example
 * ```ts
 * const linear: WaitStrategy = ({ attempt }) => 0.5 * attempt; // 0.5 s, 1 s, 1.5 s, …
 * retry({ stop: stopAfterRetries(4), wait: linear })(fn);
 * ```
 */
export type WaitStrategy = (state: RetryState) => number;

/**
 * Whether a thrown error deserves another attempt (results are never retried).
 *
 * @example
 * ```ts
 * const young: RetryCondition = (error, { elapsed }) => elapsed < 5 && isRetryableHttpError(error);
 * retry({ retry: young, stop: stopAfterRetries(3) })(fn);
 * ```
 */
export type RetryCondition = (error: unknown, state: RetryState) => boolean;

/**
 * Options of {@link retry}; the defaults are tenacity's.
 *
 * @example
 * ```ts
 * const options: RetryOptions = { stop: stopAfterRetries(3), wait: fixedWait(0.5), reraise: true };
 * const load = retry(options)(fetchReport);
 * ```
 */
export interface RetryOptions {
  /**
   * When to give up. Default: never (retry until success or a non-retryable error).
   *
   * @default never (retry until success or a non-retryable error)
   */
  stop?: StopStrategy;
  /**
   * Seconds to sleep between attempts. Default: no wait.
   *
   * @default no wait
   */
  wait?: WaitStrategy;
  /**
   * Which errors are retried; others are thrown at once, unwrapped. Default: every error.
   *
   * @default every error
   */
  retry?: RetryCondition;
  /**
   * When `stop` ends the loop: `true` throws the last error itself, `false`
   * (default, as in tenacity) throws a {@link RetryError} whose `cause` is that error.
   *
   * @default false
   */
  reraise?: boolean;
  /** Called (and awaited) before every sleep, never after the final attempt. Good for logging. */
  beforeSleep?: (state: RetryState) => void | Promise<void>;
  /**
   * Aborting it interrupts a sleep at once and rejects with `signal.reason`;
   * no attempt starts once it is aborted. In-flight attempts are not touched:
   * hand the same signal to the work itself (as `ResilientClient` does).
   */
  signal?: AbortSignal;
}

/**
 * Wraps a function (or decorates a method) with a retry policy. The wrapper
 * has the function's parameters and `this`, and returns a promise of its result.
 *
 * @example
 * ```ts
 * const withRetry: RetryWrapper = defaultRetry({ attempts: 5 });
 * const loadUser = withRetry(async (id: string) => api.get(`users/${id}`).json());
 * ```
 */
export type RetryWrapper = <F extends (...args: never[]) => unknown>(
  fn: F,
  context?: ClassMethodDecoratorContext,
) => Retrying<F>;

/**
 * `fn` wrapped by {@link retry}: same `this` and parameters, a promise of the same result.
 *
 * @example
 * ```ts
 * const load: Retrying<(id: string) => Promise<Post>> = defaultRetry()(fetchPost); // (id: string) => Promise<Post>
 * ```
 */
export type Retrying<F extends (...args: never[]) => unknown> = (
  this: ThisParameterType<F>,
  ...args: Parameters<F>
) => Promise<Awaited<ReturnType<F>>>;

/** The longest delay setTimeout honours; longer ones would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * @internal Sleeps `seconds`; an abort of `signal` (or of `other`) rejects at once with
 * its reason. Two signals rather than `AbortSignal.any`, which would allocate
 * a signal per sleep and keep it attached to long-lived sources.
 */
export function sleep(seconds: number, signal?: AbortSignal, other?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = signal?.aborted ? signal : other?.aborted ? other : undefined;
    if (aborted !== undefined) {
      reject(aborted.reason);
      return;
    }
    const settle = (error?: { reason: unknown }) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      other?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error.reason);
    };
    const onAbort = (event: Event) => settle({ reason: (event.target as AbortSignal).reason });
    const timer = setTimeout(() => settle(), Math.min(MAX_TIMER_MS, seconds * 1000));
    signal?.addEventListener('abort', onAbort, { once: true });
    other?.addEventListener('abort', onAbort, { once: true });
  });
}

/** @internal Options of {@link retry} with defaults applied and checked. */
export interface RetryPolicy {
  stop: StopStrategy;
  wait: WaitStrategy;
  retry: RetryCondition;
  reraise: boolean;
  beforeSleep: ((state: RetryState) => void | Promise<void>) | undefined;
  signal: AbortSignal | undefined;
}

const never = () => false;
const noWait = () => 0;
const always = () => true;

function assertFunction(where: string, option: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new InvalidOptionError(where, option, value, 'a function (or omitted)');
  }
}

/** @internal */
export function resolveRetryPolicy(where: string, options: RetryOptions): RetryPolicy {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(where, 'options', options, 'an options object (or omitted)');
  }
  const { stop, wait, retry, reraise = false, beforeSleep, signal } = options;
  assertFunction(where, 'stop', stop);
  assertFunction(where, 'wait', wait);
  assertFunction(where, 'retry', retry);
  assertFunction(where, 'beforeSleep', beforeSleep);
  if (typeof reraise !== 'boolean') throw new InvalidOptionError(where, 'reraise', reraise, 'true or false');
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidOptionError(where, 'signal', signal, 'an AbortSignal (or omitted)');
  }
  return { stop: stop ?? never, wait: wait ?? noWait, retry: retry ?? always, reraise, beforeSleep, signal };
}

/**
 * @internal The retry loop. `signal` (per call) is combined with the policy's own.
 */
export async function runWithRetry<R>(
  policy: RetryPolicy,
  call: () => R,
  signal?: AbortSignal,
): Promise<Awaited<R>> {
  const own = policy.signal;
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    own?.throwIfAborted();
    signal?.throwIfAborted();
    try {
      return await call();
    } catch (error) {
      const elapsed = (performance.now() - started) / 1000;
      const state = { attempt, error, elapsed, upcomingSleep: 0 };
      if (!policy.retry(error, state)) throw error;
      const wanted = policy.wait(state);
      // NaN or negative waits would make setTimeout fire at once; say so by waiting 0.
      state.upcomingSleep = Number.isNaN(wanted) ? 0 : Math.max(0, wanted);
      if (policy.stop(state)) {
        if (policy.reraise) throw error;
        throw new RetryError(attempt, error);
      }
      own?.throwIfAborted();
      signal?.throwIfAborted();
      if (policy.beforeSleep) await policy.beforeSleep(state);
      await sleep(state.upcomingSleep, signal, own);
    }
  }
}

/** @internal Turns a policy into a wrapper that also works as a TC39 method decorator. */
export function retryWrapper(where: string, policy: RetryPolicy): RetryWrapper {
  return function wrap<F extends (...args: never[]) => unknown>(
    fn: F,
    context?: ClassMethodDecoratorContext,
  ): Retrying<F> {
    if (context !== undefined && context.kind !== 'method') {
      throw new UnsupportedUseError(`${where} decorates methods only, not a ${String(context.kind)}`);
    }
    if (typeof fn !== 'function') {
      throw new InvalidOptionError(where, 'fn', fn, 'a function or a class method to wrap');
    }
    const wrapped = function (this: ThisParameterType<F>, ...args: Parameters<F>) {
      return runWithRetry(policy, () => fn.apply(this, args) as ReturnType<F>);
    };
    Object.defineProperty(wrapped, 'name', { value: fn.name, configurable: true });
    return wrapped;
  };
}

/**
 * Retries a function with tenacity's semantics (fastapi-memory's `retry`).
 * The attempt number seen by `stop` and `wait` is 1-based and counts the attempt
 * that just failed. A result is never retried; an error `retry` rejects is thrown
 * at once, unwrapped. Durations are in seconds. Works as a wrapper and as a
 * standard (TC39) method decorator; methods keep their `this`.
 *
 * @example
 * ```ts
 * const load = retry({
 *   stop: stopAfterRetries(3),
 *   wait: exponentialBackoff({ multiplier: 1, min: 2, max: 10 }),
 *   retry: retryOnError(isRetryableHttpError),
 *   reraise: true,
 * })(async (id: string) => upstream.getRaw(`items/${id}`));
 *
 * class Repo {
 *   @retry({ stop: stopAfterRetries(5) })
 *   async load(id: string) { … }
 * }
 * ```
 */
export function retry(options: RetryOptions = {}): RetryWrapper {
  return retryWrapper('retry()', resolveRetryPolicy('retry()', options));
}

/**
 * Retries only errors for which `predicate` returns `true` (tenacity's
 * `retry_if_exception`); other errors are thrown at once, unwrapped.
 *
 * @example
 * ```ts
 * retry({ retry: retryOnError((error) => error instanceof TypeError), stop: stopAfterRetries(3) })(fn);
 * ```
 */
export function retryOnError(predicate: (error: unknown) => boolean): RetryCondition {
  if (typeof predicate !== 'function') {
    throw new InvalidOptionError('retryOnError()', 'predicate', predicate, 'a function (error) => boolean');
  }
  return (error) => predicate(error) === true;
}
