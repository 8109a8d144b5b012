/**
 * The one channel through which a call tells the outside what the cache did for it.
 *
 * Two parts of the library learn per-call facts while a procedure runs: `memorize`
 * (hit or miss, when the entry expires) and `invalidates` (which procedures it
 * dropped). Two readers need them afterwards, outside the procedure:
 *
 * - **HTTP responses** — `cacheHeaders()`, a `responseMeta` that tRPC calls once per
 *   response with `info.calls[i]`. tRPC hands every call's middleware chain the very
 *   function object it lists as `info.calls[i].getRawInput`, fresh per call, so a
 *   `WeakMap` keyed by that function connects a call's facts to its response entry
 *   (nothing is written onto tRPC's objects, and a response's facts are collected
 *   with it). A middleware that calls `next({ getRawInput })` hands later middlewares
 *   another function and cuts that link: `cacheHeaders()` notices a memorized call
 *   that reported nothing and warns once per procedure outside production.
 * - **In-process calls** — `createTRPCOptionsProxy({ router, ctx, queryClient })`
 *   runs procedures without HTTP, during server rendering; its `getRawInput` is made
 *   inside tRPC and never shown. `runInProcess()` runs such a call in an
 *   `AsyncLocalStorage` scope (Node, Deno, Bun, Next.js and edge runtimes provide
 *   one); `memorize` adds its report to the scope of the call it runs in, whatever
 *   function the middlewares passed along. `reportServerTtl()` uses it to carry what
 *   the server knew into React Query's dehydrated state.
 *
 * @internal Not exported from the package entry.
 */

import type { NormalizedTarget } from './invalidation.js';

/** What `memorize` learned about one call. @internal */
export interface CallReport {
  /**
   * `'hit'` when the answer came from the cache (a call that waited for a
   * concurrent call's computation counts as a hit once that result is stored),
   * `'miss'` when the resolver ran for it, `'stale'` when it was answered with an
   * entry past its `expire` (within `staleWhileRevalidate`, or within
   * `staleIfError` because the resolver failed), `undefined` when memorize let the
   * call through uncached (its `scope` returned `null`, or its input has no stable key).
   */
  source: 'hit' | 'miss' | 'stale' | undefined;
  /** Whether the answer is in the cache; `false` for a miss whose result could not be stored. */
  stored: boolean;
  /** Absolute expiry of the entry in epoch ms; `undefined` when it never expires (or was not stored). */
  expiresAt: number | undefined;
  /** `'public'` when shared by all callers, `'private'` when partitioned by `scope`. */
  visibility: 'public' | 'private';
  /** The procedure's `expire` in seconds (its static policy). */
  expire: number | undefined;
  /** The procedure's `staleWhileRevalidate` in seconds, when it has one. */
  staleWhileRevalidate?: number | undefined;
  /** The procedure's `staleIfError` in seconds, when it has one. */
  staleIfError?: number | undefined;
  /** The tags the answer's entry carries (`memorize({ tags })`); `undefined` for none. */
  tags?: readonly string[] | undefined;
}

/** Everything one call reported. @internal */
export interface CallFacts {
  /** What `memorize` did, when the procedure is memorized. */
  memorized?: CallReport;
  /** What a successful mutation invalidated. */
  invalidated?: readonly NormalizedTarget[];
}

/** The identity of a call as its middlewares see it: tRPC's per-call `getRawInput`. */
interface CallIdentity {
  path: string;
  getRawInput: object;
}

// Two maps rather than one of `CallFacts`: a hit (the benchmarked path) then stores its
// report as it is, with no wrapper object.
const memorizedBy = new WeakMap<object, CallReport>();
const invalidatedBy = new WeakMap<object, readonly NormalizedTarget[]>();

/**
 * Whether anything reads the per-call facts of HTTP calls: set once a
 * `cacheHeaders()` exists. Until then a hit skips the WeakMap insert, which keyed by
 * a fresh function per call costs the hit path (and the GC) more than the rest of
 * the report.
 */
let readers = false;

/** `cacheHeaders()` announces that it reads the facts of every call from now on. @internal */
export function readCallFactsFromNowOn(): void {
  readers = true;
}

/** One in-process call, as {@link runInProcess} collects it. @internal */
export interface InProcessCall {
  /** The procedure path the call was made for. */
  readonly path: string;
  /** What memorize reported for it; `undefined` when it did not run (not memorized, failed early). */
  report: CallReport | undefined;
}

interface Storage<T> {
  getStore(): T | undefined;
  run<R>(store: T, fn: () => R): R;
}
type StorageConstructor = new <T>() => Storage<T>;

/**
 * The scope storage, shared through `globalThis` so that every copy of the library a
 * process loads (Next.js bundles the server code more than once) reports into the
 * same scopes. Created on the first in-process call only: an `AsyncLocalStorage`
 * costs every promise a little on older Node versions, and HTTP-only servers never
 * need one.
 */
const STORAGE = Symbol.for('trpc-memory.inProcessCalls');
type Shared = { [STORAGE]?: Storage<InProcessCall> | null };

function storageConstructor(): StorageConstructor | undefined {
  const global = globalThis as { AsyncLocalStorage?: StorageConstructor };
  if (typeof global.AsyncLocalStorage === 'function') return global.AsyncLocalStorage;
  // Node without the global (outside Next.js): its built-in, reached without a static
  // import so that bundles for runtimes without `node:` modules stay buildable.
  const nodeProcess = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const hooks = nodeProcess?.getBuiltinModule?.('node:async_hooks') as
    | { AsyncLocalStorage?: StorageConstructor }
    | undefined;
  return hooks?.AsyncLocalStorage;
}

function sharedStorage(create: boolean): Storage<InProcessCall> | undefined {
  const shared = globalThis as Shared;
  const existing = shared[STORAGE];
  if (existing !== undefined || !create) return existing ?? undefined;
  const Constructor = storageConstructor();
  shared[STORAGE] = Constructor === undefined ? null : new Constructor<InProcessCall>();
  return shared[STORAGE] ?? undefined;
}

/**
 * Runs `fn`, an in-process call of the procedure at `path`, in a scope that collects
 * memorize's report; `call` is `undefined` where the runtime has no
 * `AsyncLocalStorage` (the call then simply carries no report).
 *
 * @internal
 */
export function runInProcess<T>(path: string, fn: () => T): { result: T; call: InProcessCall | undefined } {
  const storage = sharedStorage(true);
  if (storage === undefined) return { result: fn(), call: undefined };
  const call: InProcessCall = { path, report: undefined };
  return { result: storage.run(call, fn), call };
}

/**
 * Whether a report can reach anyone now: a `cacheHeaders()` exists, or the
 * in-process scope storage does. A hit builds its report only then. @internal
 */
export function reportsWanted(): boolean {
  return readers || (globalThis as Shared)[STORAGE] != null;
}

/** `memorize` reports what it did for a call. @internal */
export function reportMemorized(call: CallIdentity, report: CallReport): void {
  if (readers) memorizedBy.set(call.getRawInput, report);
  const scope = sharedStorage(false)?.getStore();
  // A resolver may call other procedures in-process; only a report of the scope's own
  // procedure describes its data. Should one procedure call itself, keep the entry
  // that expires first: the data can be no fresher than that.
  if (scope === undefined || scope.path !== call.path) return;
  if (scope.report === undefined || expiresFirst(report, scope.report)) scope.report = report;
}

function expiresFirst(a: CallReport, b: CallReport): boolean {
  const expiry = (report: CallReport) =>
    !report.stored ? Number.NEGATIVE_INFINITY : (report.expiresAt ?? Number.POSITIVE_INFINITY);
  return expiry(a) < expiry(b);
}

/** `invalidates` reports the targets a successful mutation dropped. @internal */
export function reportInvalidated(call: CallIdentity, targets: readonly NormalizedTarget[]): void {
  if (readers) invalidatedBy.set(call.getRawInput, targets);
}

/** What the call identified by `getRawInput` (`info.calls[i].getRawInput`) reported. @internal */
export function readCallFacts(getRawInput: object): CallFacts | undefined {
  const memorized = memorizedBy.get(getRawInput);
  const invalidated = invalidatedBy.get(getRawInput);
  if (memorized === undefined && invalidated === undefined) return undefined;
  return {
    ...(memorized === undefined ? {} : { memorized }),
    ...(invalidated === undefined ? {} : { invalidated }),
  };
}
