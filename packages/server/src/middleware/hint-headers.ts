/**
 * The response headers `cacheHeaders` writes and `@trpc-memory/client` reads. Each
 * is a list with one entry per call of the HTTP response, in batch order (entry
 * `i` describes the call with `batchIndex` `i`), entries separated by `", "`.
 *
 * - `trpc-memory-ttl`: the remaining time to live in seconds of the memorized
 *   result each call returned (`12.345`), `inf` when it never expires, `-` when the
 *   call returned nothing memorized (not memorized, not cached, or failed). Sent
 *   on every response with calls, so its presence tells the client the server
 *   speaks this protocol.
 * - `trpc-memory-cache`: whether each call's answer came from the cache, `hit`
 *   (a call that waited for a concurrent call's computation counts as a hit once
 *   that result is stored), `miss` (the resolver ran for it, its result stored
 *   or not) or `stale` (answered with an entry past its `expire`, within
 *   `staleWhileRevalidate` or `staleIfError`), `-` when the call was not
 *   memorized or failed. Sent when some entry
 *   is not `-`; a separate header, so clients that predate it read
 *   `trpc-memory-ttl` unchanged.
 * - `trpc-memory-policy`: sent instead of `trpc-memory-ttl` when headers leave
 *   before the calls run (`httpBatchStreamLink`): each call's static `expire`.
 * - `trpc-memory-invalidates`: the procedure paths whose cached results a
 *   successful call dropped, separated by spaces (each path URI-encoded), `-` for
 *   none.
 *
 * The client package keeps its own copy of these names (it must not import server
 * code); a cross-package test pins both to the same values.
 *
 * @internal
 */
export const TTL_HEADER = 'trpc-memory-ttl';
/** @internal */
export const CACHE_HEADER = 'trpc-memory-cache';
/** @internal */
export const POLICY_HEADER = 'trpc-memory-policy';
/** @internal */
export const INVALIDATES_HEADER = 'trpc-memory-invalidates';

/** Entry of a call that carries nothing. @internal */
export const NONE = '-';

/** Seconds with millisecond precision, `inf` for "never expires". @internal */
export function formatSeconds(ms: number): string {
  if (ms === Number.POSITIVE_INFINITY) return 'inf';
  return (Math.max(0, ms) / 1000).toFixed(3);
}

/** One `trpc-memory-invalidates` entry. @internal */
export function formatPaths(paths: readonly string[] | undefined): string {
  if (paths === undefined || paths.length === 0) return NONE;
  return paths.map((path) => encodeURIComponent(path)).join(' ');
}

/** Joins entries into a header value, or `undefined` when no entry carries anything. @internal */
export function formatList(entries: readonly string[]): string | undefined {
  return entries.some((entry) => entry !== NONE) ? entries.join(', ') : undefined;
}
