import type { HTTPBatchLinkOptions, Operation, OperationResultEnvelope, TRPCLink } from '@trpc/client';
import type { AnyTRPCClientTypes, AnyTRPCRouter } from '@trpc/server';
import type { Observable, Observer } from '@trpc/server/observable';
import { now } from './clock.js';
import { type CacheHints, defaultHints, registryOf } from './hints.js';
import {
  CACHE_HEADER,
  type ClientTarget,
  INVALIDATES_HEADER,
  POLICY_HEADER,
  parseList,
  parseSeconds,
  parseSource,
  parseTags,
  parseTargets,
  type ServedFrom,
  TAGS_HEADER,
  TTL_HEADER,
} from './protocol.js';

/**
 * Options of {@link cacheHintsLink}.
 *
 * @example
 * ```ts
 * cacheHintsLink({ hints: createCacheHints() });
 * ```
 */
export interface CacheHintsLinkOptions {
  /**
   * Where to record the hints. Default: the registry shared with `mirrorServerTtl`.
   *
   * @default the registry shared with `mirrorServerTtl`
   */
  hints?: CacheHints;
}

type BatchHeadersOption = NonNullable<HTTPBatchLinkOptions<AnyTRPCClientTypes>['headers']>;
/**
 * The `headers` function `httpBatchLink` and `httpBatchStreamLink` accept; what
 * {@link cacheHintsHeaders} returns.
 *
 * @example
 * ```ts
 * const headers: BatchHeadersFunction = cacheHintsHeaders({ 'x-app': 'web' });
 * ```
 */
export type BatchHeadersFunction = Extract<BatchHeadersOption, (...args: never[]) => unknown>;

/** Where an operation stood in its batch, and when the batch request left. */
interface BatchPosition {
  index: number;
  sentAt: number;
}

/**
 * Each operation's position in its batch, as the batch link's `headers` callback
 * saw it. Keyed by `op.context` (the one object that reaches the batch link by
 * reference) and then by `op.id`, because an app may share one context object
 * between several calls.
 */
const batchPositions = new WeakMap<object, Map<number, BatchPosition>>();

/** Takes the operation's batch position out of the registry. */
function batchPositionOf(op: Operation): BatchPosition | undefined {
  const positions = batchPositions.get(op.context);
  const position = positions?.get(op.id);
  if (position !== undefined) forgetBatchPosition(op);
  return position;
}

function forgetBatchPosition(op: Operation): void {
  const positions = batchPositions.get(op.context);
  if (positions === undefined) return;
  positions.delete(op.id);
  if (positions.size === 0) batchPositions.delete(op.context);
}

/**
 * The `headers` option for `httpBatchLink` / `httpBatchStreamLink` that lets
 * {@link cacheHintsLink} tell which call of a batch each server hint belongs to
 * (all calls of a batch share one HTTP response). Wraps your own `headers`, static
 * or a function, and returns them unchanged.
 *
 * Without it a batch mixing procedures with different TTLs still never stays fresh
 * longer than the server allows: each of its queries gets the smallest TTL of the
 * batch (and a one-time console warning).
 *
 * @param headers Your own headers: an object, or a function of `{ opList }`.
 *
 * @example
 * ```ts
 * httpBatchLink({ url: '/trpc', headers: cacheHintsHeaders() });
 * httpBatchLink({ url: '/trpc', headers: cacheHintsHeaders(() => ({ authorization: `Bearer ${token()}` })) });
 * ```
 */
export function cacheHintsHeaders(headers?: BatchHeadersOption): BatchHeadersFunction {
  return (opts) => {
    const sentAt = now();
    opts.opList.forEach((op, index) => {
      const positions = batchPositions.get(op.context) ?? new Map<number, BatchPosition>();
      positions.set(op.id, { index, sentAt });
      batchPositions.set(op.context, positions);
    });
    if (headers === undefined) return {};
    return typeof headers === 'function' ? headers(opts) : headers;
  };
}

/**
 * `source` with `onNext` run on each value before it is passed on, and `onEnd`
 * once it errs, completes or is unsubscribed; what `tap` + `finalize` would do.
 */
function tapNext<TValue, TError>(
  source: Observable<TValue, TError>,
  onNext: (value: TValue) => void,
  onEnd: () => void,
): Observable<TValue, TError> {
  const self = {
    subscribe(observer: Partial<Observer<TValue, TError>>) {
      const subscription = source.subscribe({
        next(value) {
          try {
            onNext(value);
          } catch {
            // A hint that cannot be read must never break the call it describes.
          }
          observer.next?.(value);
        },
        error(error) {
          onEnd();
          observer.error?.(error);
        },
        complete() {
          onEnd();
          observer.complete?.();
        },
      });
      return {
        unsubscribe() {
          onEnd();
          subscription.unsubscribe();
        },
      };
    },
    pipe(...operations: ((source: unknown) => unknown)[]) {
      return operations.reduce((previous, operation) => operation(previous), self as unknown);
    },
  };
  return self as unknown as Observable<TValue, TError>;
}

interface HeadersLike {
  get(name: string): string | null;
}

function headersOf(context: Record<string, unknown> | undefined): HeadersLike | undefined {
  const response = context?.response as { headers?: Partial<HeadersLike> } | undefined;
  const headers = response?.headers;
  return typeof headers?.get === 'function' ? (headers as HeadersLike) : undefined;
}

/** The registries that already showed the "add cacheHintsHeaders()" warning: once each is enough. */
const warnedAboutBatchOrder = new WeakSet<CacheHints>();

function warnBatchOrder(hints: CacheHints): void {
  if (warnedAboutBatchOrder.has(hints)) return;
  warnedAboutBatchOrder.add(hints);
  console.warn(
    '[trpc-memory] cacheHintsLink: a batched response carries hints for several calls but not which call is which, so each query gets the smallest TTL of its batch. Pass `headers: cacheHintsHeaders()` to httpBatchLink / httpBatchStreamLink.',
  );
}

/** This call's TTL entry in milliseconds (`null` for none). */
function pickMilliseconds(list: string[], index: number | undefined, hints: CacheHints): number | null {
  if (index !== undefined) return parseSeconds(list[index] ?? '-');
  if (list.length === 1) return parseSeconds(list[0] as string);
  const values = list.map(parseSeconds);
  if (values.every((value) => value === values[0])) return values[0] ?? null;
  warnBatchOrder(hints);
  // Not knowing which is ours, take what can only make the data stale sooner.
  if (values.some((value) => value === null)) return null;
  return Math.min(...(values as number[]));
}

/** This call's hit-or-miss entry; `undefined` when it cannot tell which entry is its own. */
function pickSource(list: string[] | undefined, index: number | undefined): ServedFrom | undefined {
  if (list === undefined) return undefined;
  if (index !== undefined) return parseSource(list[index]);
  // Without the batch order, only a batch whose calls all agree says anything about each.
  return list.every((entry) => entry === list[0]) ? parseSource(list[0]) : undefined;
}

/** What this call invalidated. */
function pickTargets(list: string[], index: number | undefined, hints: CacheHints): ClientTarget[] {
  if (index !== undefined) return parseTargets(list[index] ?? '-');
  if (list.length === 1) return parseTargets(list[0] as string);
  const all = list.map(parseTargets);
  if (all.some((targets) => targets.length > 0)) warnBatchOrder(hints);
  // Not knowing which is ours, invalidating more only costs a refetch.
  return all.flat();
}

/** The tags of this call's result; when it cannot tell which entry is its own, those of all. */
function pickTags(
  list: string[] | undefined,
  index: number | undefined,
): readonly string[] | '*' | undefined {
  if (list === undefined) return [];
  if (index !== undefined || list.length === 1) return parseTags(list[index ?? 0]);
  const all = list.map(parseTags);
  if (all.some((tags) => tags === undefined)) return undefined;
  if (all.includes('*')) return '*';
  // Counting another call's tags as ours can only make a mutation refetch more.
  return [...new Set((all as (readonly string[])[]).flat())];
}

function recordResult(
  hints: CacheHints,
  op: Operation,
  startedAt: number,
  context: Record<string, unknown> | undefined,
): void {
  const position = batchPositionOf(op);
  const index = position?.index;
  // The batch left later than the operation started: counting from then wastes less freshness.
  const sentAt = position?.sentAt ?? startedAt;
  const headers = headersOf(context);
  const ttl = parseList(headers?.get(TTL_HEADER));
  const policy = parseList(headers?.get(POLICY_HEADER));
  const invalidates = parseList(headers?.get(INVALIDATES_HEADER));
  const fromServer = ttl !== undefined || policy !== undefined || invalidates !== undefined;

  if (op.type === 'mutation') {
    registryOf(hints).mutated({
      path: op.path,
      invalidated: !fromServer
        ? undefined
        : invalidates === undefined
          ? []
          : pickTargets(invalidates, index, hints),
    });
    return;
  }
  if (!fromServer) return;
  const receivedAt = now();
  if (ttl !== undefined) {
    const ms = pickMilliseconds(ttl, index, hints);
    const source = pickSource(parseList(headers?.get(CACHE_HEADER)), index);
    // Counted from when the request left: the server's clock started no earlier.
    registryOf(hints).record(op.path, op.input, {
      receivedAt,
      staleAt: ms === null ? null : sentAt + ms,
      source,
      exact: true,
      tags: pickTags(parseList(headers?.get(TAGS_HEADER)), index),
    });
  } else if (policy !== undefined) {
    const ms = pickMilliseconds(policy, index, hints);
    // Only an upper bound: a call answered from an entry cached earlier has less left.
    registryOf(hints).record(op.path, op.input, {
      receivedAt,
      staleAt: ms === null ? null : receivedAt + ms,
      source: undefined,
      exact: false,
      tags: undefined,
    });
  }
}

/**
 * A tRPC link that reads the cache hints the server's `cacheHeaders()` puts on
 * each response (the remaining TTL of every memorized result, whether it was a
 * cache hit, the paths a mutation invalidated) so that `mirrorServerTtl` can
 * mirror them into React Query and `getCacheHint` can tell them per query. Put it before the terminating link; with `httpBatchLink` or
 * `httpBatchStreamLink` also pass `headers: cacheHintsHeaders()` so each query of a
 * batch gets its own TTL. It changes no request and no result.
 *
 * A query's freshness is counted from when its request left, so it ends no later
 * than the server's entry expires, network time included.
 *
 * @example
 * ```ts
 * import { createTRPCClient, httpBatchLink } from '@trpc/client';
 * import { cacheHintsHeaders, cacheHintsLink } from '@trpc-memory/client';
 *
 * export const trpc = createTRPCClient<AppRouter>({
 *   links: [cacheHintsLink(), httpBatchLink({ url: '/trpc', headers: cacheHintsHeaders() })],
 * });
 * ```
 */
export function cacheHintsLink<TRouter extends AnyTRPCRouter>(
  options: CacheHintsLinkOptions = {},
): TRPCLink<TRouter> {
  const hints = options.hints ?? defaultHints;
  return () =>
    ({ op, next }) => {
      if (op.type === 'subscription') return next(op);
      const startedAt = now();
      return tapNext(
        next(op),
        (envelope: OperationResultEnvelope<unknown, unknown>) => {
          recordResult(hints, op, startedAt, envelope.context);
        },
        // A failed or aborted call never reads its batch position: drop it, or it would
        // outlive the call (and mislead a call of another client sharing the context).
        () => forgetBatchPosition(op),
      );
    };
}
