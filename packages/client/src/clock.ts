/**
 * The one place the client reads the time. It has to be React Query's own clock:
 * a query's `dataUpdatedAt` and its staleness are `Date.now()` there, and every
 * moment this package computes (when a request left, when a hint arrived, when
 * data stops being fresh) is compared with them, so a separate clock would shift
 * freshness by the difference between the two. `Date.now()` is read at each call,
 * never captured, so faking `Date` (as the tests do with Vitest fake timers) moves
 * this package and React Query together.
 *
 * @internal
 */
export function now(): number {
  return Date.now();
}
