import { InvalidOptionError } from '../errors.js';
import { isRetryableHttpError, retryAfterSeconds } from './http-errors.js';
import {
  type RetryOptions,
  type RetryPolicy,
  type RetryWrapper,
  resolveRetryPolicy,
  retryOnError,
  retryWrapper,
} from './retry.js';
import { stopAfterRetries } from './stop.js';
import { exponentialBackoff, waitRetryAfter } from './wait.js';

/**
 * Options of {@link defaultRetry}. Durations in seconds.
 *
 * @example
 * ```ts
 * const patient = defaultRetry({ attempts: 5, waitMin: 1, waitMax: 30, jitter: true, respectRetryAfter: true });
 * ```
 */
export interface DefaultRetryOptions {
  /**
   * Calls in total, the first included. Default `3`.
   *
   * @default 3
   */
  attempts?: number;
  /**
   * Shortest wait between attempts, in seconds. Default `2`.
   *
   * @default 2
   */
  waitMin?: number;
  /**
   * Longest wait between attempts, in seconds (also caps `Retry-After`). Default `10`.
   *
   * @default 10
   */
  waitMax?: number;
  /**
   * Multiplier of the exponential backoff (`multiplier * 2 ** (attempt - 1)` seconds). Default `1`.
   *
   * @default 1
   */
  multiplier?: number;
  /**
   * Which errors are retried. Default {@link isRetryableHttpError}.
   *
   * @default {@link isRetryableHttpError}
   */
  retryOn?: (error: unknown) => boolean;
  /**
   * `true` (default) throws the last error itself; `false` throws a `RetryError`.
   *
   * @default true
   */
  reraise?: boolean;
  /**
   * Full jitter: a random wait between `waitMin` and the backoff. Default `false`.
   *
   * @default false
   */
  jitter?: boolean;
  /**
   * Honour `Retry-After` on 429 and 503 responses: wait what the server asks,
   * capped by `waitMax`. A 429 that carries `Retry-After` is then retried too
   * (without the header a 429 stays final, as every 4xx). Default `false`.
   *
   * @default false
   */
  respectRetryAfter?: boolean;
  /** Called before every sleep (see `retry`). */
  beforeSleep?: RetryOptions['beforeSleep'];
  /** Aborting it stops retrying at once (see `retry`). */
  signal?: AbortSignal;
}

/**
 * The defaults of {@link defaultRetry}, which `ResilientClient` uses too (its
 * `retryAttempts`, `retryWaitMin`, … fall back to these). The one place they are
 * written; the `@default` tags of both option interfaces restate them for editors.
 * Not exported from the package entry.
 */
export const RETRY_DEFAULTS = Object.freeze({
  attempts: 3,
  waitMin: 2,
  waitMax: 10,
  multiplier: 1,
  reraise: true,
  jitter: false,
  respectRetryAfter: false,
} as const);

/** The options of `exponentialBackoff` as `defaultRetry` spells them. */
const BACKOFF_NAMES: Readonly<Record<string, string>> = { min: 'waitMin', max: 'waitMax' };

/**
 * The policy of {@link defaultRetry}, shared with `ResilientClient`.
 * A bad option is reported under the name the caller used: `spelled` maps
 * `defaultRetry`'s option names to the caller's (e.g. `attempts` → `retryAttempts`).
 */
export function defaultRetryPolicy(
  where: string,
  options: DefaultRetryOptions,
  spelled: Readonly<Record<string, string>> = {},
): RetryPolicy {
  try {
    return buildPolicy(where, options);
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    const option = BACKOFF_NAMES[error.option] ?? error.option;
    throw new InvalidOptionError(where, spelled[option] ?? option, error.value, error.allowed);
  }
}

function buildPolicy(where: string, options: DefaultRetryOptions): RetryPolicy {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(where, 'options', options, 'an options object (or omitted)');
  }
  const {
    attempts = RETRY_DEFAULTS.attempts,
    waitMin = RETRY_DEFAULTS.waitMin,
    waitMax = RETRY_DEFAULTS.waitMax,
    multiplier = RETRY_DEFAULTS.multiplier,
    retryOn = isRetryableHttpError,
    reraise = RETRY_DEFAULTS.reraise,
    jitter = RETRY_DEFAULTS.jitter,
    respectRetryAfter = RETRY_DEFAULTS.respectRetryAfter,
    beforeSleep,
    signal,
  } = options;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new InvalidOptionError(where, 'attempts', attempts, 'a whole number of calls in total, at least 1');
  }
  if (typeof retryOn !== 'function') {
    throw new InvalidOptionError(where, 'retryOn', retryOn, 'a function (error) => boolean');
  }
  if (typeof respectRetryAfter !== 'boolean') {
    throw new InvalidOptionError(where, 'respectRetryAfter', respectRetryAfter, 'true or false');
  }
  const backoff = exponentialBackoff({ multiplier, min: waitMin, max: waitMax, jitter });
  const shouldRetry = respectRetryAfter
    ? (error: unknown) => retryOn(error) || retryAfterSeconds(error, [429]) !== undefined
    : retryOn;
  return resolveRetryPolicy(where, {
    stop: stopAfterRetries(attempts),
    wait: respectRetryAfter ? waitRetryAfter(backoff, { max: waitMax }) : backoff,
    retry: retryOnError(shouldRetry),
    reraise,
    ...(beforeSleep === undefined ? {} : { beforeSleep }),
    ...(signal === undefined ? {} : { signal }),
  });
}

/**
 * A ready-made retry policy for upstream HTTP calls (fastapi-memory's
 * `default_retry`): `attempts` calls in total, exponential backoff between
 * `waitMin` and `waitMax` seconds, retrying network errors, timeouts and 5xx
 * (never 4xx), then throwing the last error. With the defaults, a call that
 * always fails with a 503 is tried 3 times, sleeping 2 s then 2 s. Works as a
 * wrapper and as a standard (TC39) method decorator.
 *
 * Retry in one layer only: turn off the retry of the HTTP library you wrap
 * (ky retries GETs twice by default; pass `retry: 0`).
 *
 * @example
 * ```ts
 * const api = ky.create({ prefixUrl: 'https://api.local', retry: 0 });
 * const loadUser = defaultRetry()(async (id: string) => api.get(`users/${id}`).json());
 *
 * class Upstream {
 *   @defaultRetry({ attempts: 5, waitMax: 30 })
 *   async load() { return api.get('data').json(); }
 * }
 * ```
 */
export function defaultRetry(options: DefaultRetryOptions = {}): RetryWrapper {
  return retryWrapper('defaultRetry()', defaultRetryPolicy('defaultRetry()', options));
}
