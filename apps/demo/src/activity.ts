/**
 * What the demo's procedures did, for the page's counters and timeline: every
 * call of a cached query is recorded as answered from the cache, from upstream,
 * or failed, with how many upstream attempts it took.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** Where one call's answer came from. */
export type CallSource = 'cache' | 'upstream' | 'error' | 'mutation';

/** One recorded call. */
export interface CallEvent {
  id: number;
  /** Epoch ms when the call started. */
  at: number;
  /** Procedure path, e.g. `catalog.byId`. */
  path: string;
  /** A short label of the input (`grinder`), or `''`. */
  label: string;
  source: CallSource;
  /** Wall time of the call in ms. */
  ms: number;
  /** Upstream HTTP attempts made by this call: 0 when served from the cache, 1 + its retries otherwise. */
  attempts: number;
  /** Why each retry happened (`HTTP 503`, `ECONNREFUSED`…), in order. */
  retryReasons: string[];
  /** The error message when the call failed. */
  error?: string;
}

/** Totals per procedure since the last reset. */
export interface ProcedureCounters {
  calls: number;
  fromCache: number;
  fromUpstream: number;
  errors: number;
  /** Upstream HTTP attempts, retries included. */
  upstreamRequests: number;
  /** Upstream requests beyond the first of each call. */
  retries: number;
}

/** The trace of one call in flight; the resolver fills it in when it runs. */
export interface CallTrace {
  readonly id: number;
  readonly path: string;
  readonly label: string;
  readonly startedAt: number;
  /** Set by the resolver: the call went upstream (it was not answered from the cache). */
  ranResolver: boolean;
  /** Upstream HTTP attempts this call made: set to 1 by the resolver, +1 per retry. */
  attempts: number;
  /** Why each retry happened. */
  retryReasons: string[];
}

const MAX_EVENTS = 300;

const emptyCounters = (): ProcedureCounters => ({
  calls: 0,
  fromCache: 0,
  fromUpstream: 0,
  errors: 0,
  upstreamRequests: 0,
  retries: 0,
});

export class Activity {
  #nextId = 1;
  #events: CallEvent[] = [];
  #counters = new Map<string, ProcedureCounters>();
  #cacheErrors = 0;
  #lastCacheError: string | undefined;
  readonly #current = new AsyncLocalStorage<CallTrace>();

  begin(path: string, label: string): CallTrace {
    return {
      id: this.#nextId++,
      path,
      label,
      startedAt: Date.now(),
      ranResolver: false,
      attempts: 0,
      retryReasons: [],
    };
  }

  /**
   * Runs `fn` (a call upstream) on behalf of `trace`, so that {@link countRetry},
   * called from `ResilientClient`'s `beforeRetry` hook, knows whose retry it is.
   */
  upstreamCall<T>(trace: CallTrace, fn: () => Promise<T>): Promise<T> {
    trace.ranResolver = true;
    trace.attempts++;
    return this.#current.run(trace, fn);
  }

  /** For `ResilientClient({ beforeRetry })`: one more attempt of the current call. */
  countRetry(reason: string): void {
    const trace = this.#current.getStore();
    if (trace === undefined) return;
    trace.attempts++;
    trace.retryReasons.push(reason);
  }

  /** Records the end of a call; `error` is its message when it failed. */
  end(trace: CallTrace, error: string | undefined, kind: 'query' | 'mutation' = 'query'): CallEvent {
    const source: CallSource =
      error !== undefined
        ? 'error'
        : kind === 'mutation'
          ? 'mutation'
          : trace.ranResolver
            ? 'upstream'
            : 'cache';
    const event: CallEvent = {
      id: trace.id,
      at: trace.startedAt,
      path: trace.path,
      label: trace.label,
      source,
      ms: Date.now() - trace.startedAt,
      attempts: trace.attempts,
      retryReasons: trace.retryReasons,
      ...(error === undefined ? {} : { error }),
    };
    this.#events.push(event);
    if (this.#events.length > MAX_EVENTS) this.#events.shift();

    const counters = this.#counters.get(trace.path) ?? emptyCounters();
    counters.calls++;
    if (source === 'cache') counters.fromCache++;
    if (source === 'upstream' || source === 'mutation') counters.fromUpstream++;
    if (source === 'error') counters.errors++;
    counters.upstreamRequests += trace.attempts;
    counters.retries += Math.max(0, trace.attempts - 1);
    this.#counters.set(trace.path, counters);
    return event;
  }

  /** Called by the cache's `onError` hook (e.g. Redis down): the request still succeeds. */
  cacheError(message: string): void {
    this.#cacheErrors++;
    this.#lastCacheError = message;
  }

  /** The last `limit` events, oldest first. */
  events(limit = 80): CallEvent[] {
    return this.#events.slice(-limit);
  }

  counters(): Record<string, ProcedureCounters> {
    return Object.fromEntries([...this.#counters].map(([path, c]) => [path, { ...c }]));
  }

  get cacheErrors(): { count: number; last: string | undefined } {
    return { count: this.#cacheErrors, last: this.#lastCacheError };
  }

  reset(): void {
    this.#events = [];
    this.#counters.clear();
    this.#cacheErrors = 0;
    this.#lastCacheError = undefined;
  }
}
