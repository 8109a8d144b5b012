import { InvalidOptionError } from '../errors.js';
import { assertSeconds } from '../seconds.js';
import { retryAfterSeconds } from './http-errors.js';
import type { WaitStrategy } from './retry.js';

/**
 * Options of {@link exponentialBackoff}. All durations in seconds.
 *
 * @example
 * ```ts
 * exponentialBackoff({ multiplier: 0.5, min: 1, max: 30, jitter: true });
 * ```
 */
export interface ExponentialBackoffOptions {
  /**
   * Scales the doubling wait: `multiplier * 2 ** (attempt - 1)` seconds. Default `1`.
   *
   * @default 1
   */
  multiplier?: number;
  /**
   * Shortest wait in seconds (negative counts as 0; wins over `max` when larger). Default `0`.
   *
   * @default 0
   */
  min?: number;
  /**
   * Longest wait in seconds. Default `Infinity`.
   *
   * @default Infinity
   */
  max?: number;
  /**
   * "Full jitter": wait a uniformly random time between `min` and the computed
   * wait instead of the computed wait itself (tenacity's `wait_random_exponential`),
   * so that many clients failing together do not retry in lockstep. Default `false`.
   *
   * @default false
   */
  jitter?: boolean;
}

/**
 * Exponential backoff (tenacity's `wait_exponential`): before attempt n + 1 it
 * waits `clamp(multiplier * 2 ** (n - 1), max(0, min), max)` seconds; when
 * `min > max`, `min` wins. With `{ multiplier: 1, min: 2, max: 10 }` the waits
 * after attempts 1..7 are 2, 2, 4, 8, 10, 10, 10 seconds.
 *
 * @example
 * ```ts
 * retry({ stop: stopAfterRetries(5), wait: exponentialBackoff({ min: 2, max: 10 }) })(fn);
 * retry({ wait: exponentialBackoff({ multiplier: 0.5, max: 30, jitter: true }) })(fn);
 * ```
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): WaitStrategy {
  const { multiplier = 1, min = 0, max = Number.POSITIVE_INFINITY, jitter = false } = options;
  const where = 'exponentialBackoff()';
  assertSeconds(where, 'multiplier', multiplier, { allowZero: true });
  // A negative `min` is clamped to 0.
  assertSeconds(where, 'min', min, { allowZero: true, allowNegative: true });
  assertSeconds(where, 'max', max, { allowZero: true, allowInfinity: true });
  if (typeof jitter !== 'boolean') throw new InvalidOptionError(where, 'jitter', jitter, 'true or false');
  const floor = Math.max(0, min);
  return (state) => {
    const computed = Math.max(floor, Math.min(multiplier * 2 ** (state.attempt - 1), max));
    return jitter ? floor + Math.random() * (computed - floor) : computed;
  };
}

/**
 * The same wait before every retry (tenacity's `wait_fixed`), in seconds.
 *
 * @example
 * ```ts
 * retry({ stop: stopAfterRetries(3), wait: fixedWait(0.5) })(fn);
 * ```
 */
export function fixedWait(seconds: number): WaitStrategy {
  assertSeconds('fixedWait()', 'seconds', seconds, { allowZero: true });
  return () => seconds;
}

/**
 * Options of {@link waitRetryAfter}.
 *
 * @example
 * ```ts
 * waitRetryAfter(exponentialBackoff({ min: 1 }), { max: 60, statuses: [429] });
 * ```
 */
export interface WaitRetryAfterOptions {
  /**
   * Never wait longer than this many seconds, whatever the server asks. Default `Infinity`.
   *
   * @default Infinity
   */
  max?: number;
  /**
   * Statuses whose `Retry-After` is honoured. Default `[429, 503]`.
   *
   * @default [429, 503]
   */
  statuses?: readonly number[];
}

/**
 * Honours the `Retry-After` header (seconds or an HTTP date) of a ky `HTTPError`
 * with status 429 or 503: waits what the server asked, capped by `max`; other
 * errors wait what `fallback` says. Opt-in, because a hostile or broken server
 * could otherwise stall callers.
 *
 * @example
 * ```ts
 * retry({
 *   stop: stopAfterRetries(4),
 *   wait: waitRetryAfter(exponentialBackoff({ min: 1, max: 10 }), { max: 10 }),
 *   retry: retryOnError(isRetryableHttpError),
 * })(fn);
 * ```
 */
export function waitRetryAfter(fallback: WaitStrategy, options: WaitRetryAfterOptions = {}): WaitStrategy {
  const { max = Number.POSITIVE_INFINITY, statuses = [429, 503] } = options;
  const where = 'waitRetryAfter()';
  if (typeof fallback !== 'function') {
    throw new InvalidOptionError(where, 'fallback', fallback, 'a wait strategy function');
  }
  assertSeconds(where, 'max', max, { allowZero: true, allowInfinity: true });
  if (!Array.isArray(statuses) || !statuses.every((status) => Number.isInteger(status))) {
    throw new InvalidOptionError(where, 'statuses', statuses, 'an array of HTTP status codes');
  }
  return (state) => {
    const asked = retryAfterSeconds(state.error, statuses);
    return asked === undefined ? fallback(state) : Math.min(max, asked);
  };
}
