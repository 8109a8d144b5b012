/**
 * The server's clock: every expiry and time-to-live decision of the package reads
 * {@link now} (entry expiry on write and on read, the memory backend's TTLs, the
 * TTLs `cacheHeaders` and `reportServerTtl` announce, `Retry-After` dates), never
 * `Date.now()` directly. Deadlines are not expiry: the Redis backend's
 * `commandTimeout` and cooldown run on the monotonic `performance.now()`, so a
 * wall-clock step (NTP, a faked `Date`) neither stretches nor cancels them.
 *
 * It is `Date.now()` read at each call, so Vitest's (and Sinon's) fake timers move
 * it: a test sets the time with `vi.setSystemTime()` / `vi.advanceTimersByTime()`
 * and sees entries expire at the exact boundary, with no real waiting.
 *
 * Not exported from the package entry.
 */

/** The current time in epoch milliseconds. */
export function now(): number {
  return Date.now();
}

/** The clock in the shape lru-cache takes as its `perf` option. */
export const clock: { now(): number } = { now };
