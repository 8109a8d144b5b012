import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { InvalidOptionError } from '../errors.js';
import { assertSeconds } from '../seconds.js';
import type { DistributedFlightOptions } from './distributed-flight.js';

/**
 * Grace: how long past its `expire` an entry may still answer, and when.
 *
 * - `staleWhileRevalidate`: a call within this many seconds after expiry gets the
 *   stale value at once while one background refresh replaces it;
 * - `staleIfError`: a call within this many seconds after expiry whose resolver
 *   failed (the upstream or the server, never a 4xx on purpose) gets the stale
 *   value instead of the error.
 *
 * The entry itself carries its fresh-until time (`expiresAt`); the backend keeps
 * it for `expire + max(staleWhileRevalidate, staleIfError)` seconds. Windows are
 * half-open: an entry is fresh while `now < expiresAt`, and within a window of
 * `w` seconds while `now < expiresAt + w`.
 */
export interface Grace {
  /** Milliseconds after expiry during which a stale entry is served while it is refreshed. */
  readonly revalidateMs: number;
  /** Milliseconds after expiry during which a stale entry is served when the resolver fails. */
  readonly ifErrorMs: number;
  /** Seconds the backend keeps an entry past its expiry: the longer window. */
  readonly keep: number;
}

function seconds(where: string, option: string, value: unknown): number | undefined {
  assertSeconds(where, option, value, { allowZero: true, optional: true });
  return value;
}

/**
 * Validates `staleWhileRevalidate` / `staleIfError`; `undefined` when neither is
 * set (or both are 0). Each needs an `expire` known when memorize is made: its own,
 * or the `expire` of the cache given to it.
 */
export function graceOf(
  where: string,
  options: { staleWhileRevalidate?: unknown; staleIfError?: unknown },
  expire: number | undefined,
): Grace | undefined {
  const revalidate = seconds(where, 'staleWhileRevalidate', options.staleWhileRevalidate);
  const ifError = seconds(where, 'staleIfError', options.staleIfError);
  for (const [option, value] of [
    ['staleWhileRevalidate', revalidate],
    ['staleIfError', ifError],
  ] as const) {
    if (value !== undefined && expire === undefined) {
      throw new InvalidOptionError(
        where,
        option,
        value,
        'used together with `expire` (a window after expiry needs an expiry); set `expire` on the same call',
      );
    }
  }
  const keep = Math.max(revalidate ?? 0, ifError ?? 0);
  if (keep === 0) return undefined;
  return { revalidateMs: (revalidate ?? 0) * 1000, ifErrorMs: (ifError ?? 0) * 1000, keep };
}

/** Whether an entry that expired at `expiresAt` is within a window of `windowMs` at `now`. */
export function within(expiresAt: number, windowMs: number, now: number): boolean {
  return now < expiresAt + windowMs;
}

/**
 * Whether a resolver error means "the upstream or the server failed" and may be
 * answered with a stale value: anything but a `TRPCError`, or a `TRPCError` whose
 * code maps to HTTP 5xx. A 4xx (`NOT_FOUND`, `UNAUTHORIZED`, …) is a deliberate
 * answer and is never masked. A TRPCError is told by shape, so another copy of
 * `@trpc/server` is recognised too.
 */
export function isServerFailure(error: unknown): boolean {
  if (
    error === null ||
    typeof error !== 'object' ||
    (error as { name?: unknown }).name !== 'TRPCError' ||
    typeof (error as { code?: unknown }).code !== 'string'
  ) {
    return true;
  }
  return getHTTPStatusCodeFromError(error as Parameters<typeof getHTTPStatusCodeFromError>[0]) >= 500;
}

/** The defaults of `distributed: true`. */
export const DISTRIBUTED_DEFAULTS: DistributedFlightOptions = { lockTtl: 10, poll: 0.2 };

/** Validates `distributed`; `undefined` when it is off. */
export function distributedOf(where: string, value: unknown): DistributedFlightOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return DISTRIBUTED_DEFAULTS;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError(where, 'distributed', value, 'true, false or { lockTtl?, poll? } (seconds)');
  }
  const { lockTtl, poll, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) {
    throw new InvalidOptionError(
      where,
      `distributed.${unknown}`,
      rest[unknown],
      'left out: known are lockTtl, poll',
    );
  }
  const positive = (option: string, given: unknown, fallback: number): number => {
    assertSeconds(where, `distributed.${option}`, given, { optional: true });
    return given ?? fallback;
  };
  return {
    lockTtl: positive('lockTtl', lockTtl, DISTRIBUTED_DEFAULTS.lockTtl),
    poll: positive('poll', poll, DISTRIBUTED_DEFAULTS.poll),
  };
}
