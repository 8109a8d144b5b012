import type { AnyTRPCRouter } from '@trpc/server';
import type { ResponseMeta, ResponseMetaFn, TRPCRequestInfo } from '@trpc/server/http';
import { now as clockNow } from '../cache/clock.js';
import { readCallFacts, readCallFactsFromNowOn } from './call-channel.js';
import {
  CACHE_HEADER,
  formatList,
  formatSeconds,
  formatTags,
  formatTargets,
  INVALIDATES_HEADER,
  NONE,
  POLICY_HEADER,
  TAGS_HEADER,
  TTL_HEADER,
} from './hint-headers.js';
import { effectiveExpire, invalidatesTagOf, memorizeTagOf } from './procedure-tags.js';

type ResponseMetaOptions<TRouter extends AnyTRPCRouter> = Parameters<ResponseMetaFn<TRouter>>[0];

const warnedPaths = new Set<string>();

/**
 * A memorized call that succeeded always reports (even when memorize let it through
 * uncached), so silence means the report went to another `getRawInput`: a middleware
 * before memorize called `next({ getRawInput })`. Said once per procedure, outside production.
 */
function warnIfReportLost(call: TRPCRequestInfo['calls'][number]): void {
  const nodeEnv = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.NODE_ENV;
  if (nodeEnv === 'production' || warnedPaths.has(call.path)) return;
  if (memorizeTagOf(call.procedure) === undefined) return;
  warnedPaths.add(call.path);
  console.warn(
    `[trpc-memory] cacheHeaders: "${call.path}" is memorized but its call reported nothing, so the response carries no TTL for it and the client will not treat it as fresh. A middleware before memorize() probably called next({ getRawInput }) with a new function: memorize reports under the getRawInput it receives, which must be the call's own (tRPC's). Pass the call's getRawInput on unchanged, or place memorize() before that middleware.`,
  );
}

/** The headers of a response whose calls have run: what each call actually got. */
function reportedHeaders(info: TRPCRequestInfo, data: ResponseMetaOptions<AnyTRPCRouter>['data']): Headers {
  const headers = new Headers();
  const now = clockNow();
  const ttl: string[] = [];
  const source: string[] = [];
  const invalidated: string[] = [];
  const tags: string[] = [];
  // Cache-Control only when every call is a memorized query that succeeded.
  let shareable = info.calls.length > 0;
  let scoped = false;
  let smallest = Number.POSITIVE_INFINITY;
  // How long from now every call's entry may still be served stale, per directive.
  let revalidateLeft = Number.POSITIVE_INFINITY;
  let ifErrorLeft = Number.POSITIVE_INFINITY;

  info.calls.forEach((call, index) => {
    const response = data[index];
    const failed = response === undefined || 'error' in response;
    const facts = failed ? undefined : readCallFacts(call.getRawInput);
    if (!failed && facts === undefined) warnIfReportLost(call);
    const report = facts?.memorized;
    invalidated.push(failed ? NONE : formatTargets(facts?.invalidated));
    source.push(report?.source ?? NONE);
    tags.push(report?.stored === true ? formatTags(report.tags) : NONE);
    if (report?.source === undefined || !report.stored) {
      ttl.push(NONE);
      shareable = false;
      return;
    }
    const remaining =
      report.expiresAt === undefined ? Number.POSITIVE_INFINITY : Math.max(0, report.expiresAt - now);
    ttl.push(formatSeconds(remaining));
    smallest = Math.min(smallest, remaining);
    if (report.visibility === 'private') scoped = true;
    revalidateLeft = Math.min(revalidateLeft, graceLeft(report.expiresAt, report.staleWhileRevalidate, now));
    ifErrorLeft = Math.min(ifErrorLeft, graceLeft(report.expiresAt, report.staleIfError, now));
  });

  // Sent even when every entry is empty: it tells the client the server speaks this protocol,
  // so the client does not fall back to the static policy for calls that were not cached.
  if (ttl.length > 0) headers.set(TTL_HEADER, ttl.join(', '));
  const sourceValue = formatList(source);
  if (sourceValue !== undefined) headers.set(CACHE_HEADER, sourceValue);
  const invalidatedValue = formatList(invalidated);
  if (invalidatedValue !== undefined) headers.set(INVALIDATES_HEADER, invalidatedValue);
  const tagsValue = formatList(tags);
  if (tagsValue !== undefined) headers.set(TAGS_HEADER, tagsValue);
  // An entry that never expires gets no max-age: HTTP caches would never hear of its invalidation.
  if (shareable && Number.isFinite(smallest)) {
    const maxAge = Math.floor(smallest / 1000);
    let value = `${scoped ? 'private' : 'public'}, max-age=${maxAge}`;
    if (!scoped) value += graceDirective('stale-while-revalidate', revalidateLeft, maxAge);
    if (!scoped) value += graceDirective('stale-if-error', ifErrorLeft, maxAge);
    headers.set('cache-control', value);
  }
  return headers;
}

/** Milliseconds from `now` until a call's entry leaves a grace window of `grace` seconds (0 without one). */
function graceLeft(expiresAt: number | undefined, grace: number | undefined, now: number): number {
  if (expiresAt === undefined || grace === undefined) return 0;
  return Math.max(0, expiresAt + grace * 1000 - now);
}

/**
 * `, <directive>=N` so that an HTTP cache serves the response stale no later than
 * the server itself would: `max-age + N` never passes the earliest end of a
 * call's grace window. Empty when nothing is left.
 */
function graceDirective(directive: string, leftMs: number, maxAge: number): string {
  const seconds = Math.floor(leftMs / 1000) - maxAge;
  return seconds > 0 ? `, ${directive}=${seconds}` : '';
}

/** The headers of a streamed response, sent before any call runs: only the static policy. */
function policyHeaders(info: TRPCRequestInfo): Headers {
  const headers = new Headers();
  const policy = info.calls.map((call) => {
    const tag = memorizeTagOf(call.procedure);
    if (tag === undefined) return NONE;
    return formatSeconds((effectiveExpire(tag) ?? Number.POSITIVE_INFINITY) * 1000);
  });
  const invalidates = info.calls.map((call) => formatTargets(invalidatesTagOf(call.procedure)?.targets));
  if (policy.length > 0) headers.set(POLICY_HEADER, policy.join(', '));
  const invalidatesValue = formatList(invalidates);
  if (invalidatesValue !== undefined) headers.set(INVALIDATES_HEADER, invalidatesValue);
  return headers;
}

/** `ours` overlaid with the app's headers: a header the app sets replaces ours. */
function mergeHeaders(ours: Headers, app: ResponseMeta['headers']): Headers {
  if (app === undefined) return ours;
  const merged = new Headers(ours);
  if (app instanceof Headers) {
    for (const key of new Set(app.keys())) merged.delete(key);
    // Iterating Headers yields each Set-Cookie on its own, so none is folded into another.
    for (const [key, value] of app) merged.append(key, value);
    return merged;
  }
  for (const [key, value] of Object.entries(app)) {
    if (Array.isArray(value)) {
      merged.delete(key);
      for (const item of value) merged.append(key, item);
    } else if (typeof value === 'string') {
      merged.set(key, value);
    }
  }
  return merged;
}

/**
 * A `responseMeta` for any tRPC HTTP adapter (standalone, fetch, Express, Fastify,
 * Next.js…) that tells the client how long each memorized result stays valid, so
 * `@trpc-memory/client` can mirror it into React Query's `staleTime`.
 *
 * For every call of the response, in batch order, it reports the remaining time
 * to live of the memorized result that call returned (a hit or a fresh miss) in
 * the `trpc-memory-ttl` header, whether it was a cache `hit` or a `miss` in
 * `trpc-memory-cache` (`-` for a call not memorized or failed), the tags of its
 * entry (`memorize({ tags })`) in `trpc-memory-tags`, and for mutations using
 * {@link invalidates} the invalidated targets in `trpc-memory-invalidates`.
 * `@trpc-memory/client` exposes both per query through `getCacheHint`. For
 * example `trpc-memory-ttl: 42.180, -` and `trpc-memory-cache: hit, -` describe a
 * batch whose first call was answered from the cache (its entry has 42.18 s
 * left) and whose second was not memorized. It sets `Cache-Control`:
 * `public, max-age=N` only when every call of the response is a public memorized
 * query without error, `private, max-age=N` when every call is memorized and
 * without error but one of them is scoped (`memorize({ scope })`), nothing
 * otherwise; N is the smallest remaining time to live, in whole seconds. A
 * public response whose every call comes from a procedure with
 * `staleWhileRevalidate` (or `staleIfError`) also carries
 * `stale-while-revalidate=M` (`stale-if-error=M`), M chosen so that an HTTP cache
 * serves it stale no later than the server's own grace window ends (max-age + M
 * never passes the earliest end). A call answered with a stale entry says
 * `stale` in `trpc-memory-cache` and `0.000` in `trpc-memory-ttl`.
 *
 * It wraps the application's own `responseMeta`: its `status` is kept and its
 * headers are merged, a header it sets (`Cache-Control` included) replacing ours.
 *
 * With `httpBatchStreamLink` tRPC builds the headers before any procedure runs
 * (`eagerGeneration`), so only the static policy can be sent: each call's
 * `expire` in the `trpc-memory-policy` header and a mutation's static
 * `invalidates([...])` paths, no `Cache-Control`. The client then treats a result
 * as fresh for the full `expire` from when it arrives, which can exceed what the
 * server's entry has left; use `httpBatchLink` or `httpLink` where that matters.
 *
 * When the API is on another origin, list `trpc-memory-ttl`, `trpc-memory-cache`,
 * `trpc-memory-policy`, `trpc-memory-tags` and `trpc-memory-invalidates` in your CORS
 * `Access-Control-Expose-Headers`, or the browser hides them from the client.
 *
 * @param responseMeta The application's own `responseMeta`, if any.
 *
 * @example
 * ```ts
 * import { createHTTPServer } from '@trpc/server/adapters/standalone';
 * import { cacheHeaders } from '@trpc-memory/server';
 *
 * createHTTPServer({
 *   router: appRouter,
 *   createContext,
 *   responseMeta: cacheHeaders(),
 * }).listen(3000);
 *
 * // keeping your own responseMeta:
 * fetchRequestHandler({
 *   endpoint: '/trpc', req, router: appRouter, createContext,
 *   responseMeta: cacheHeaders(({ ctx }) => ({ headers: { 'x-request-id': ctx.requestId } })),
 * });
 * ```
 */
export function cacheHeaders<TRouter extends AnyTRPCRouter>(
  responseMeta?: ResponseMetaFn<TRouter>,
): ResponseMetaFn<TRouter> {
  readCallFactsFromNowOn();
  return (opts) => {
    const { info } = opts;
    const ours =
      info === undefined
        ? new Headers()
        : opts.eagerGeneration
          ? policyHeaders(info)
          : reportedHeaders(info, opts.data);
    const app = responseMeta?.(opts) ?? {};
    return { ...app, headers: mergeHeaders(ours, app.headers) };
  };
}
