/**
 * The response headers the server's `cacheHeaders()` writes. Each is a list with
 * one entry per call of the response, in batch order, separated by `", "`:
 *
 * - `trpc-memory-ttl`: remaining time to live in seconds of the memorized result
 *   the call returned (`12.345`), `inf` for no expiry, `-` for nothing memorized;
 * - `trpc-memory-cache`: `hit` when the call's answer came from the server's
 *   cache, `miss` when its resolver ran, `stale` when the server answered with an
 *   expired entry (stale-while-revalidate, stale-if-error), `-` for nothing
 *   memorized; absent from servers that predate it (and when no entry says anything);
 * - `trpc-memory-policy`: the static `expire` per call, sent instead when the
 *   headers leave before the calls run (`httpBatchStreamLink`);
 * - `trpc-memory-invalidates`: what a successful call invalidated, space-separated
 *   targets, `-` for none: a URI-encoded path (every query of it),
 *   `input=<path>=<json>` (the queries of that path whose input matches; a
 *   server-side target's scope is not sent: a browser holds one user's queries),
 *   `tag=<json string>` (the queries whose results carry the tag);
 * - `trpc-memory-tags`: per call, the tags of its memorized result, each the
 *   URI-encoded JSON string of a tag, space-separated; `-` for none, `*` for too many
 *   to list.
 *
 * A copy of the server's names: importing them would pull server code into the
 * browser bundle. A cross-package test keeps both in step.
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

/**
 * What a mutation invalidated, as the client matches it against its queries.
 *
 * @internal
 */
export type ClientTarget =
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'input'; readonly path: string; readonly input: unknown }
  | { readonly kind: 'tag'; readonly tag: string };

const NONE = '-';

/** The entries of a list header, or `undefined` when the header is absent. @internal */
export function parseList(value: string | null | undefined): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  return value.split(',').map((entry) => entry.trim());
}

/**
 * One TTL/policy entry in milliseconds: `Infinity` for `inf`, `null` for "nothing
 * memorized" (or an entry this version cannot read).
 *
 * @internal
 */
export function parseSeconds(entry: string): number | null {
  if (entry === 'inf') return Number.POSITIVE_INFINITY;
  if (entry === NONE || entry === '') return null;
  const seconds = Number(entry);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
}

/** Where the server's answer came from, as `trpc-memory-cache` says it. @internal */
export type ServedFrom = 'hit' | 'miss' | 'stale';

/** One `trpc-memory-cache` entry; `undefined` for `-` or an entry this version cannot read. @internal */
export function parseSource(entry: string | undefined): ServedFrom | undefined {
  return entry === 'hit' || entry === 'miss' || entry === 'stale' ? entry : undefined;
}

/** The text of a URI-encoded JSON string; throws when it is not one. */
function decodeText(part: string): string {
  const text: unknown = JSON.parse(decodeURIComponent(part));
  if (typeof text !== 'string') throw new TypeError('not a string');
  return text;
}

/** One target of an invalidates entry; `undefined` for one this version cannot read. */
function parseTarget(part: string): ClientTarget | undefined {
  try {
    if (part.startsWith('tag=')) return { kind: 'tag', tag: decodeText(part.slice(4)) };
    if (part.startsWith('input=')) {
      const rest = part.slice(6);
      const split = rest.indexOf('=');
      if (split < 0) return { kind: 'input', path: decodeURIComponent(rest), input: undefined };
      const input: unknown = JSON.parse(decodeURIComponent(rest.slice(split + 1)));
      return { kind: 'input', path: decodeURIComponent(rest.slice(0, split)), input };
    }
    // A path never holds a bare `=` (it is URI-encoded): anything else with one is a
    // target kind of a later version, which must not be taken for a path.
    if (part.includes('=')) return undefined;
    return { kind: 'path', path: decodeURIComponent(part) };
  } catch {
    // A malformed entry names nothing we could match.
    return undefined;
  }
}

/** One invalidates entry: the targets it names. @internal */
export function parseTargets(entry: string): ClientTarget[] {
  if (entry === NONE || entry === '') return [];
  const targets: ClientTarget[] = [];
  for (const part of entry.split(' ')) {
    if (part === '') continue;
    const target = parseTarget(part);
    if (target !== undefined) targets.push(target);
  }
  return targets;
}

/**
 * One `trpc-memory-tags` entry: the tags, `'*'` for "any", `[]` for none (or an
 * entry this version cannot read: the tags it may have are then unknown, `undefined`).
 *
 * @internal
 */
export function parseTags(entry: string | undefined): readonly string[] | '*' | undefined {
  if (entry === undefined) return undefined;
  if (entry === NONE || entry === '') return [];
  if (entry === '*') return '*';
  try {
    return entry
      .split(' ')
      .filter((part) => part !== '')
      .map(decodeText);
  } catch {
    return undefined;
  }
}

/**
 * The key of a tRPC query's React Query `meta` under which the server's
 * `reportServerTtl` puts what its cache knew about a server-rendered query: a
 * {@link ServerTtlMeta}, or a promise of one for a query that was still running when
 * the page was dehydrated (streamed by React Server Components).
 *
 * @internal
 */
export const SERVER_TTL_META = 'trpc-memory';

/** What a server-rendered query carries in its `meta`. @internal */
export interface ServerTtlMeta {
  /** `'hit'`, `'miss'` or `'stale'`; `null` when the server did not memorize the call. */
  source: ServedFrom | null;
  /** Milliseconds from `renderedAt` until the server's entry expires; `'inf'` for never; `null` when not cached. */
  expiresIn: number | 'inf' | null;
  /** When the server began rendering (epoch ms, the server's clock). */
  renderedAt: number;
  /**
   * The tags of the server's entry: `[]` for none, `'*'` for too many to list, `null`
   * when unknown (not in the server's cache, a server that predates the field, or a
   * value this version cannot read).
   */
  tags: readonly string[] | '*' | null;
}

/**
 * The longest `trpc-memory-tags` entry the server lists tags in (each the URI-encoded
 * JSON string of a tag, space-separated); past it, it sends `*`. A server-rendered
 * query's tags keep to the same limit.
 */
const MAX_TAGS_ENTRY = 2_000;

/** Each tag takes at least 7 characters of an entry (`%22%22`, a space): more tags never fit. */
const MAX_LISTED_TAGS = Math.floor((MAX_TAGS_ENTRY + 1) / 7);

/**
 * The tags of a server-rendered query's entry, as {@link ServerTtlMeta} has them.
 * Anything but `'*'` or an array of strings within the server's limit is unknown
 * (`null`): a refetch too many, never a query left stale. A huge array is turned down
 * by its length alone, before any element is read.
 */
function parseMetaTags(value: unknown): readonly string[] | '*' | null {
  if (value === '*') return '*';
  if (!Array.isArray(value) || value.length > MAX_LISTED_TAGS) return null;
  const tags: string[] = [];
  let length = -1;
  for (const tag of value as unknown[]) {
    if (typeof tag !== 'string') return null;
    // JSON escapes lone surrogates, so the URI encoding never throws.
    length += encodeURIComponent(JSON.stringify(tag)).length + 1;
    if (length > MAX_TAGS_ENTRY) return null;
    tags.push(tag);
  }
  return tags;
}

/**
 * A {@link ServerTtlMeta}, or `undefined` for a value this version cannot read. Tags
 * it cannot read leave the rest readable: they are then unknown (`null`).
 *
 * @internal
 */
export function parseServerTtlMeta(value: unknown): ServerTtlMeta | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { source, expiresIn, renderedAt, tags } = value as Record<string, unknown>;
  if (source !== 'hit' && source !== 'miss' && source !== 'stale' && source !== null) return undefined;
  if (typeof renderedAt !== 'number' || !Number.isFinite(renderedAt)) return undefined;
  const validExpiresIn =
    expiresIn === null ||
    expiresIn === 'inf' ||
    (typeof expiresIn === 'number' && Number.isFinite(expiresIn));
  if (!validExpiresIn) return undefined;
  return { source, expiresIn, renderedAt, tags: parseMetaTags(tags) };
}
