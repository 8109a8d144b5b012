import type { TRPCProcedureType } from '@trpc/server';
import type { Cache } from '../cache/cache.js';
import { coreOf } from '../cache/cache-internals.js';
import { distributedFlight } from '../cache/distributed-flight.js';
import { distributedOf, graceOf } from '../cache/grace.js';
import {
  fenceStateKey,
  namespacePart,
  rawInputKey,
  scopeSegment,
  stableKey,
  tagStateKey,
  userKeySegment,
} from '../cache/key.js';
import { CacheManager } from '../cache/manager.js';
import { createMemoizer, type MemoEntry, type Memoizer } from '../cache/memoizer.js';
import type { GuardPlan } from '../cache/tags.js';
import {
  InvalidOptionError,
  InvalidReturnError,
  UnkeyableValueError,
  UnsupportedUseError,
} from '../errors.js';
import { assertExpire } from '../seconds.js';
import { reportMemorized, reportsWanted } from './call-channel.js';
import {
  assertCache,
  assertKnownOptions,
  assertNamespace,
  assertTags,
  byReferenceOf,
  checkTags,
  SHARED_OPTIONS,
  type SharedMemorizeOptions,
} from './memorize-options.js';
import { MEMORIZE_TAG, type MemorizeTag } from './procedure-tags.js';
import type { MiddlewareOptions, MiddlewareResult } from './trpc-middleware.js';

/**
 * What a `key` function receives.
 *
 * @example
 * ```ts
 * memorize({ key: ({ input }) => String((input as { id: string }).id) }); // ignore other input fields
 * ```
 */
export interface MemorizeKeyInput<TContext> {
  /** The procedure path, e.g. `'post.byId'`. */
  path: string;
  /** The raw input, before validation (the same wherever `memorize` stands in the chain). */
  input: unknown;
  /** The context at the point where `memorize` stands. */
  ctx: TContext;
}

/**
 * What a `tags` function receives, once the resolver has run and its result is about to be stored.
 *
 * @example
 * ```ts
 * memorize<Ctx, Post>({ tags: ({ data }: MemorizeTagsCall<Ctx, Post>) => [`post:${data.id}`, `author:${data.authorId}`] });
 * ```
 */
export interface MemorizeTagsCall<TContext = object, TData = unknown> {
  /** The procedure path, e.g. `'post.byId'`. */
  path: string;
  /** The validated input when `memorize` stands after `.input()`, else `undefined` (use `data` or `ctx`). */
  input: unknown;
  /** The context at the point where `memorize` stands. */
  ctx: TContext;
  /** What the resolver returned. */
  data: TData;
}

/**
 * Options of {@link memorize}.
 *
 * `TContext` is inferred from the procedure `memorize` is used on, so `scope` and
 * `key` see the procedure's context without annotations.
 *
 * @example
 * ```ts
 * authed.use(memorize({ expire: 30, namespace: 'me', scope: (ctx) => ctx.user.id })).query(loadMe);
 * ```
 */
export interface MemorizeOptions<TContext = object, TData = unknown> extends SharedMemorizeOptions {
  /**
   * Time to live in seconds (fractions allowed: `0.05` is 50 ms). Default: the
   * cache's `expire` (from `initCache`/`createCache`); neither → no expiry.
   *
   * @default the cache's `expire` (from `initCache`/`createCache`); neither → no expiry
   */
  expire?: number;
  /**
   * First part of the key, the unit `clear({ namespace })` drops. Default: the
   * procedure path, e.g. `'post.byId'`.
   *
   * @default the procedure path, e.g. `'post.byId'`
   */
  namespace?: string;
  /**
   * The part of the key that identifies one call. Return a string. Default: the
   * canonical form of the input (hashed when long), so `{ a: 1, b: 2 }` and
   * `{ b: 2, a: 1 }` share an entry: the input as the procedure accepts it when
   * `memorize` stands after `.input()` (unknown fields the schema strips cannot
   * split or flood the cache), the raw input when it stands before (weaker: any
   * extra field makes a new entry).
   *
   * @default the canonical form of the input (hashed when long)
   */
  key?: (opts: MemorizeKeyInput<TContext>) => string;
  /**
   * Who may share a cached result. `'public'` (default): every caller. A function
   * of the context: one partition per returned string (e.g. the user id); `null`
   * (or `undefined`) → this call is not cached. A result cached for one scope is
   * never served to another, nor to public callers. An input target
   * (`{ path, input }`) drops one scope's entry: the caller's, or its `scope`'s.
   *
   * @default 'public'
   */
  scope?: 'public' | ((ctx: TContext) => string | null | undefined);
  /**
   * The cache to use. Default: the global `CacheManager`, looked up at call time.
   *
   * @default the global `CacheManager`, looked up at call time
   */
  cache?: Cache;
  /**
   * Tags stored with each entry, so that a `{ tag }` target (`invalidates`,
   * `invalidate`) drops every entry carrying it, whatever its procedure: a fixed
   * list, or a function of the call and its result, called when the result is
   * stored. Tags are any non-empty strings (`'post:1'`, `'author:7'`).
   *
   * Cost: a hit on a tagged entry reads one more key per tag, issued together with
   * the entry (one round trip on Redis): fixed tags always, computed tags once this
   * `memorize()` has seen the entry of that call (stored or read it). The first hit
   * of a call in a process reads the cache's epoch with the entry instead, and the
   * computed tags after it only when a tag was invalidated since the entry was
   * stored. Untagged entries are read as before.
   *
   * @default none
   */
  tags?: readonly string[] | ((call: MemorizeTagsCall<TContext, TData>) => readonly string[]);
}

/**
 * The middleware {@link memorize} returns: usable in any procedure chain whose
 * context fits `TContext`; it changes neither the context nor the input/output types.
 *
 * @example
 * ```ts
 * const cachedMinute: MemorizeMiddleware = memorize({ expire: 60 });
 * const a = t.procedure.use(cachedMinute).query(loadA);
 * const b = authed.use(cachedMinute).query(loadB);
 * ```
 */
export type MemorizeMiddleware<TContext = object> = <TProcedureContext, TMeta, TContextOverrides, TInputOut>(
  opts: MiddlewareOptions<TProcedureContext, TMeta, TContextOverrides, TInputOut> & { ctx: TContext },
) => MiddlewareResult<TContextOverrides>;

/** Loose shapes of the runtime objects, for the implementation only. */
interface CallOptions {
  ctx: unknown;
  type: TRPCProcedureType;
  path: string;
  input: unknown;
  getRawInput: () => Promise<unknown>;
  signal: AbortSignal | undefined;
  next: (opts?: { getRawInput: () => Promise<unknown> }) => Promise<StepResult>;
}
type StepResult = { ok: true; data: unknown } | { ok: false; error: unknown };

/** Procedure paths whose key heads one `memorize()` keeps (a router has far fewer). */
const MAX_PATHS = 10_000;

/** The key parts of one procedure path (see `paths` in {@link memorize}). */
interface PathKeys {
  head: string;
  /** The fence of the path's namespace (see `fence.ts`). */
  fence: string;
  inputless: { cache: Cache; key: string; full: string } | undefined;
}

// tRPC checks this marker only at compile time (see trpc/trpc#4066).
const marker = 'middlewareMarker';
const WHERE = 'memorize()';
const KNOWN_OPTIONS = ['expire', 'namespace', 'key', 'scope', 'cache', 'tags', ...SHARED_OPTIONS];

/**
 * tRPC middleware that memorizes a query's result in the cache (fastapi-memory's
 * `@memorize`). The first call with a given input runs the resolver and stores its
 * result; the next calls within `expire` seconds get the stored result without
 * running it. Concurrent calls with the same key run the resolver once; errors are
 * never cached; a cache failure (Redis down, corrupt entry) never fails the call.
 *
 * Only queries: on a mutation or subscription every call fails with an error.
 *
 * Every call gets its own copy of the result: a hit decodes one from the cache,
 * and calls that waited for a concurrent call's computation (single-flight) each
 * decode one from the entry it stored. Only the call whose resolver ran gets the
 * resolver's own object, and calls that waited for a value the cache cannot
 * encode (a class instance…) share that object. With `byReference: true` there
 * is no copy: every call gets the entry's one deep-frozen value.
 *
 * Cancellation stays per call: a call whose request is aborted (the resolver's
 * `signal`) stops waiting at once with its abort reason; the calls waiting with it
 * carry on. tRPC gives the resolver the signal of the call that runs it, so when
 * that call is aborted and the resolver fails, a call still waiting runs the
 * resolver again with its own signal instead of failing with another's abort.
 *
 * On a hit nothing after `memorize` in the chain runs (so neither does a
 * `.input()` placed after it: the raw input of a hit already passed validation
 * when it was stored).
 *
 * The key is the input as the procedure accepts it when `memorize` stands after
 * `.input()`: unknown fields are stripped by the schema before they can make new
 * entries. Placed before `.input()` (or before a second `.input()`, or when the
 * resolver reads `getRawInput()`), `memorize` keys by the raw input instead; it
 * finds out which on the first miss of each procedure, by seeing whether anything
 * after it reads the raw input. An input the key cannot represent faithfully (a
 * class instance, …) or past the limits of key building runs without the cache,
 * reported through the cache's `onError` (`operation: 'key'`).
 *
 * @example
 * ```ts
 * const appRouter = t.router({
 *   post: t.router({
 *     byId: t.procedure
 *       .input(z.object({ id: z.string() }))
 *       .use(memorize({ expire: 60 })) // one minute
 *       .query(({ input }) => upstream.getJson(`posts/${input.id}`)),
 *   }),
 *   me: authed.use(memorize({ expire: 30, scope: (ctx) => ctx.user.id })).query(loadMe),
 * });
 * await clearCache({ namespace: 'post.byId' });
 * ```
 *
 * @throws {InvalidOptionError} at once for a bad option (e.g. `expire` not a positive finite number).
 */
export function memorize<TContext = object, TData = unknown>(
  options: MemorizeOptions<TContext, TData> = {},
): MemorizeMiddleware<TContext> {
  assertKnownOptions(WHERE, options, KNOWN_OPTIONS);
  const { expire, namespace, key, scope = 'public', cache: givenCache, tags } = options;
  assertTags(WHERE, tags);
  assertExpire(WHERE, expire);
  const grace = graceOf(WHERE, options, expire ?? givenCache?.expire);
  const distributed = distributedOf(WHERE, options.distributed);
  const { staleWhileRevalidate, staleIfError } = options;
  assertNamespace(WHERE, namespace);
  if (key !== undefined && typeof key !== 'function') {
    throw new InvalidOptionError(WHERE, 'key', key, 'a function ({ path, input, ctx }) => string');
  }
  if (scope !== 'public' && typeof scope !== 'function') {
    throw new InvalidOptionError(WHERE, 'scope', scope, "'public' or a function (ctx) => string | null");
  }
  assertCache(WHERE, givenCache);
  const byReference = byReferenceOf(WHERE, options.byReference);

  const scopeOf = scope === 'public' ? undefined : scope;
  const visibility = scopeOf === undefined ? 'public' : 'private';
  const namespaceHead = namespace === undefined ? undefined : `${namespacePart(namespace)}:`;
  const memoizer = createMemoizer({
    grace,
    byReference,
    flight: distributed === undefined ? undefined : distributedFlight(distributed),
  });
  const fixedTags = typeof tags === 'function' || tags === undefined ? [] : [...new Set(tags)];
  const fixedTagKeys = fixedTags.map(tagStateKey);
  const tagsOf = typeof tags === 'function' ? tags : undefined;
  /**
   * Per procedure path, what the default key may be built from: `'validated'` when
   * nothing after memorize reads the raw input (memorize stands after the last
   * `.input()`), `'raw'` when something does (a `.input()` after it, or a resolver
   * reading `getRawInput()`: then the validated input does not tell calls apart).
   * Unknown until a first miss ran; until then the raw input keys the call.
   */
  const inputKinds = new Map<string, 'validated' | 'raw'>();
  /**
   * The first miss of a path while its kind is unknown, and its (raw-input) key:
   * calls with another input arriving meanwhile wait for it instead of each running
   * the resolver under a raw-input key (a burst of requests with junk fields at
   * startup would otherwise all miss).
   */
  const learning = new Map<string, { key: string; done: Promise<void> }>();
  /**
   * Per procedure path: its key head and, once a call without input read it, that
   * entry's keys, so such calls (one entry, read every call) build and hash no key.
   */
  const paths = new Map<string, PathKeys>();
  function pathKeys(path: string): PathKeys {
    let keys = paths.get(path);
    if (keys === undefined) {
      if (paths.size >= MAX_PATHS) paths.clear();
      keys = {
        head: namespaceHead ?? `${namespacePart(path)}:`,
        fence: fenceStateKey(namespace ?? path),
        inputless: undefined,
      };
      paths.set(path, keys);
    }
    return keys;
  }

  async function memorizeMiddleware(opts: CallOptions): Promise<StepResult> {
    if (opts.type !== 'query') throw notAQuery(opts.path, opts.type);
    const cache = givenCache ?? CacheManager.instance;

    const keys = pathKeys(opts.path);
    let head = keys.head;
    if (scopeOf !== undefined) {
      const id = scopeOf(opts.ctx as TContext);
      if (id === null || id === undefined) return passThrough(opts);
      if (typeof id !== 'string') throw badReturn('scope', opts.path, id);
      head += scopeSegment(id);
    }

    const { getRawInput } = opts;
    const kind = key === undefined ? inputKinds.get(opts.path) : 'raw';
    let entryKey: string;
    let full: string | undefined;
    let callPart: string;
    if (kind === 'validated' && opts.input === undefined && scopeOf === undefined) {
      callPart = stableKey(undefined); // a constant
      const known = keys.inputless;
      if (known !== undefined && known.cache === cache) ({ key: entryKey, full } = known);
      else {
        entryKey = head + callPart;
        full = memoizer.backendKey(cache, entryKey);
        keys.inputless = { cache, key: entryKey, full };
      }
    } else {
      try {
        if (key !== undefined) {
          const given = key({ path: opts.path, input: await getRawInput(), ctx: opts.ctx as TContext });
          if (typeof given !== 'string') throw badReturn('key', opts.path, given);
          callPart = userKeySegment(given);
        } else if (kind === 'validated') {
          callPart = stableKey(opts.input);
        } else {
          callPart = rawInputKey(await getRawInput());
        }
      } catch (error) {
        // An input without a faithful, bounded key can only be run, not cached.
        if (!(error instanceof UnkeyableValueError)) throw error;
        reportUnkeyable(cache, opts.path, error);
        return passThrough(opts);
      }
      entryKey = head + callPart;
    }
    const ttl = expire ?? cache.expire;
    // The state keys the entry depends on, read together with it: its fixed tags (a
    // scoped entry has no other: an input target drops it by its key, in one scope);
    // with tags computed from the result, those the entry under this key was last seen with.
    const guardKeys = fixedTagKeys;
    const prefetched =
      guardKeys.length === 0 && tagsOf === undefined
        ? undefined
        : memoizer.prefetch(cache, entryKey, guardKeys, tagsOf !== undefined);

    // The hit path: no promise to wait for when the backend answers synchronously.
    const read = memoizer.read(cache, entryKey, full);
    let entry = read instanceof Promise ? await read : read;
    if (entry === undefined && kind === undefined && key === undefined) {
      // Not learned here yet, but maybe elsewhere: another copy of this router (a
      // second bundle, another process on the same Redis, the last deploy) that
      // found the validated input keys this procedure stored the entry under it.
      entry = await readValidated(memoizer, cache, head, opts.input);
    }
    if (entry?.guarded !== undefined) {
      const held = memoizer.holds(cache, entryKey, entry.guarded, prefetched, guardKeys);
      if (held !== true && (held === false || !(await held))) entry = undefined;
    }
    if (entry !== undefined && entry.stale !== true) {
      if (reportsWanted()) {
        reportMemorized(opts, {
          source: 'hit',
          stored: true,
          expiresAt: entry.expiresAt,
          visibility,
          expire: ttl,
          staleWhileRevalidate,
          staleIfError,
          tags: entry.guarded?.tags,
        });
      }
      return { ok: true, data: entry.value, marker } as StepResult;
    }
    const plan =
      guardKeys.length === 0 && tagsOf === undefined ? undefined : planOf(opts, guardKeys, prefetched);

    let learned: (() => void) | undefined;
    if (kind === undefined) {
      // Learned while this call was reading: key it as learned.
      if (inputKinds.has(opts.path)) return memorizeMiddleware(opts);
      const pending = learning.get(opts.path);
      // The same raw input joins that call's computation (single-flight); another one
      // waits until it is known what keys this procedure, then keys as it was found.
      if (pending !== undefined && pending.key !== entryKey) {
        await untilSettled(pending.done, opts.signal);
        return memorizeMiddleware(opts);
      }
      if (pending === undefined) {
        const done = new Promise<void>((resolve) => (learned = resolve));
        learning.set(opts.path, { key: entryKey, done });
      }
    }
    try {
      return await miss(opts, cache, head, entryKey, kind, ttl, entry, plan, keys.fence);
    } finally {
      if (learned !== undefined) {
        learning.delete(opts.path);
        learned();
      }
    }
  }

  /** The guards of a call's entry: its fixed tags, the tags computed from its result. */
  function planOf(
    opts: CallOptions,
    keys: readonly string[],
    prefetched: GuardPlan['prefetched'],
  ): GuardPlan {
    const computed = tagsOf;
    return {
      keys,
      tags: fixedTags,
      prefetched,
      tagsOf:
        computed === undefined
          ? undefined
          : (data) =>
              checkTags(
                WHERE,
                opts.path,
                computed({
                  path: opts.path,
                  input: opts.input,
                  ctx: opts.ctx as TContext,
                  data: data as TData,
                }),
              ),
    };
  }

  /** The miss path; when `kind` is unknown, it also finds out whether a later step reads the raw input. */
  async function miss(
    opts: CallOptions,
    cache: Cache,
    head: string,
    entryKey: string,
    kind: 'validated' | 'raw' | undefined,
    ttl: number | undefined,
    stale: MemoEntry | undefined,
    plan: GuardPlan | undefined,
    fence: string,
  ): Promise<StepResult> {
    const { getRawInput } = opts;
    let readRaw = false;
    const observed =
      kind === 'raw'
        ? undefined
        : () => {
            readRaw = true;
            return getRawInput();
          };
    const storeKeyOf =
      observed === undefined
        ? undefined
        : (): string | undefined => {
            if (readRaw) {
              inputKinds.set(opts.path, 'raw');
              // Computed for a validated key that did not tell calls apart: keep nothing.
              return kind === undefined ? entryKey : undefined;
            }
            inputKinds.set(opts.path, 'validated');
            if (kind === 'validated') return entryKey;
            try {
              return head + stableKey(opts.input);
            } catch {
              return undefined; // reported by the next call, which keys by it
            }
          };

    // tRPC hands the resolver this call's own signal and `next()` cannot replace it, so
    // the flight cannot give the resolver a signal shared by every waiting call. It lets
    // a call that aborts stop waiting at once, and when the resolver then fails, a call
    // still waiting runs it again with its own signal (see singleFlight).
    const { data, source, stored, expiresAt, tags } = await memoizer.computeThrough(cache, {
      key: entryKey,
      ttl,
      compute: async () => {
        const result = await (observed === undefined ? opts.next() : opts.next({ getRawInput: observed }));
        if (readRaw) inputKinds.set(opts.path, 'raw');
        if (!result.ok) throw result.error;
        return result.data;
      },
      signal: opts.signal,
      storeKeyOf,
      stale,
      guards: plan,
      fence,
      alternateKey: kind === undefined ? validatedKey(head, opts.input) : undefined,
    });
    reportMemorized(opts, {
      source,
      stored,
      expiresAt,
      visibility,
      expire: ttl,
      staleWhileRevalidate,
      staleIfError,
      tags,
    });
    return { ok: true, data, marker } as StepResult;
  }

  /** A call memorize lets through uncached, reported as such (so a silent call means a lost report). */
  function passThrough(opts: CallOptions): Promise<StepResult> {
    reportMemorized(opts, { source: undefined, stored: false, expiresAt: undefined, visibility, expire });
    return opts.next();
  }

  const tag: MemorizeTag = {
    expire,
    namespace,
    visibility,
    cache: givenCache,
    key,
    scope: scopeOf,
    tags: tags === undefined ? undefined : typeof tags === 'function' ? 'computed' : fixedTags,
  };
  Object.defineProperty(memorizeMiddleware, MEMORIZE_TAG, { value: tag });
  return memorizeMiddleware as unknown as MemorizeMiddleware<TContext>;
}

/** The validated-input key, when it can be built. */
function validatedKey(head: string, input: unknown): string | undefined {
  try {
    return head + stableKey(input);
  } catch {
    return undefined;
  }
}

/** The entry under the validated-input key, when that key can be built. */
function readValidated(
  memoizer: Memoizer,
  cache: Cache,
  head: string,
  input: unknown,
): MemoEntry | undefined | Promise<MemoEntry | undefined> {
  let callPart: string;
  try {
    callPart = stableKey(input);
  } catch {
    return undefined;
  }
  return memoizer.read(cache, head + callPart);
}

/** Resolves with `promise`, or rejects with the abort reason as soon as `signal` aborts. */
function untilSettled(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

function reportUnkeyable(cache: Cache, path: string, error: UnkeyableValueError): void {
  coreOf(cache).report(
    'key',
    undefined,
    new UnkeyableValueError(error.reason, `memorize(): "${path}" ran without the cache: ${error.message}`),
  );
}

function notAQuery(path: string, type: string): UnsupportedUseError {
  return new UnsupportedUseError(
    `memorize() only memorizes queries, but "${path}" is a ${type}: remove memorize() from it (to drop cached query results after a mutation, clear them with clearCache({ namespace })).`,
  );
}

function badReturn(option: 'scope' | 'key', path: string, value: unknown): InvalidReturnError {
  const allowed = option === 'scope' ? 'a string, or null to skip the cache' : 'a string';
  return new InvalidReturnError(
    `memorize(): the "${option}" function of "${path}" must return ${allowed}, got ${typeof value}`,
  );
}
