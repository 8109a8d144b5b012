import { canonicalForm } from '../cache/key.js';
import type { NormalizedTarget } from './invalidation.js';

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
 * - `trpc-memory-invalidates`: what a successful call invalidated, `-` for
 *   nothing: targets separated by spaces, each one of
 *   - a procedure path, URI-encoded (`post.list`): every query of it;
 *   - `input=<path>=<input>`: the queries of that path whose input matches, the
 *     path and the JSON of the input each URI-encoded (`input=<path>` for no input).
 *     A target's `scope` is not sent: a browser holds one user's queries, and a
 *     scope may be another user's id, or a token;
 *   - `tag=<tag>`: the queries whose results carry the tag, the JSON string of the
 *     tag URI-encoded (JSON escapes lone surrogates, which URI encoding cannot carry).
 *   Clients that predate targets read the paths and ignore the rest.
 * - `trpc-memory-tags`: the tags of the memorized result each call returned,
 *   each the URI-encoded JSON string of a tag, separated by spaces; `-` for none,
 *   `*` for "too many to list" (any tag may match). Sent when some entry is not `-`.
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
/** @internal */
export const TAGS_HEADER = 'trpc-memory-tags';

/** Entry of a call that carries nothing. @internal */
export const NONE = '-';

/** Seconds with millisecond precision, `inf` for "never expires". @internal */
export function formatSeconds(ms: number): string {
  if (ms === Number.POSITIVE_INFINITY) return 'inf';
  return (Math.max(0, ms) / 1000).toFixed(3);
}

/** A header entry past this many characters is summarised (headers are limited in size). */
const MAX_ENTRY = 2_000;

/** URI-encoding of text that may hold lone surrogates: of its JSON string. */
function encodeText(text: string): string {
  return encodeURIComponent(JSON.stringify(text));
}

/** The JSON of an input when it says exactly what the input is (so the client matches it as given). */
function inputJson(input: unknown): string | undefined {
  if (input === undefined) return undefined;
  try {
    const json = JSON.stringify(input);
    if (json === undefined) return undefined;
    return canonicalForm(JSON.parse(json)) === canonicalForm(input) ? json : undefined;
  } catch {
    return undefined;
  }
}

function formatTarget(target: NormalizedTarget): string {
  if (target.kind === 'path') return encodeURIComponent(target.path);
  if (target.kind === 'tag') return `tag=${encodeText(target.tag)}`;
  if (target.input === undefined) return `input=${encodeURIComponent(target.path)}`;
  const json = inputJson(target.input);
  // An input JSON cannot say (a Date, a Map…): every query of the path, which is never too few.
  if (json === undefined) return encodeURIComponent(target.path);
  return `input=${encodeURIComponent(target.path)}=${encodeURIComponent(json)}`;
}

/**
 * One `trpc-memory-invalidates` entry. Past {@link MAX_ENTRY} characters, input
 * targets are widened to their paths (the client then refetches more, never less).
 *
 * @internal
 */
export function formatTargets(targets: readonly NormalizedTarget[] | undefined): string {
  if (targets === undefined || targets.length === 0) return NONE;
  const exact = [...new Set(targets.map(formatTarget))].join(' ');
  if (exact.length <= MAX_ENTRY) return exact;
  return [
    ...new Set(
      targets.map((target) =>
        target.kind === 'input' ? encodeURIComponent(target.path) : formatTarget(target),
      ),
    ),
  ].join(' ');
}

/** One `trpc-memory-tags` entry: `*` past {@link MAX_ENTRY} characters. @internal */
export function formatTags(tags: readonly string[] | undefined): string {
  if (tags === undefined || tags.length === 0) return NONE;
  const entry = tags.map(encodeText).join(' ');
  return entry.length <= MAX_ENTRY ? entry : '*';
}

/** Joins entries into a header value, or `undefined` when no entry carries anything. @internal */
export function formatList(entries: readonly string[]): string | undefined {
  return entries.some((entry) => entry !== NONE) ? entries.join(', ') : undefined;
}
