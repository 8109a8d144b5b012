import { InvalidOptionError } from '../errors.js';
import { assertSeconds } from '../seconds.js';
import type { StopStrategy } from './retry.js';

/**
 * Stops after `attempts` calls in total (tenacity's `stop_after_attempt`;
 * fastapi-memory's `stop_after_retries`): `stopAfterRetries(3)` makes the first
 * call and at most two retries.
 *
 * @example
 * ```ts
 * retry({ stop: stopAfterRetries(3) })(fn);
 * ```
 */
export function stopAfterRetries(attempts: number): StopStrategy {
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new InvalidOptionError(
      'stopAfterRetries()',
      'attempts',
      attempts,
      'a whole number of calls in total, at least 1',
    );
  }
  return (state) => state.attempt >= attempts;
}

/**
 * A total deadline in seconds, counted from the start of the first attempt:
 * stops once that much time has passed, and also before a sleep that would end
 * past the deadline (tenacity's `stop_after_delay` and `stop_before_delay` in
 * one), so retrying never overruns it by a sleep. An attempt already running is
 * not cut short: give each attempt its own timeout (as `ResilientClient` does).
 *
 * @example
 * ```ts
 * // at most 5 calls, and never past 20 s in all
 * retry({ stop: stopAny(stopAfterRetries(5), stopAfterDelay(20)), wait: exponentialBackoff({ min: 1 }) })(fn);
 * ```
 */
export function stopAfterDelay(seconds: number): StopStrategy {
  assertSeconds('stopAfterDelay()', 'seconds', seconds, { allowZero: true });
  return (state) => state.elapsed + state.upcomingSleep >= seconds;
}

/**
 * Stops as soon as any of `strategies` says stop (tenacity's `stop_any`, or `a | b`).
 *
 * @example
 * ```ts
 * retry({ stop: stopAny(stopAfterRetries(5), stopAfterDelay(20)) })(fn);
 * ```
 */
export function stopAny(...strategies: StopStrategy[]): StopStrategy {
  strategies.forEach((strategy, index) => {
    if (typeof strategy !== 'function') {
      throw new InvalidOptionError('stopAny()', `strategies[${index}]`, strategy, 'a stop strategy function');
    }
  });
  return (state) => strategies.some((strategy) => strategy(state));
}
