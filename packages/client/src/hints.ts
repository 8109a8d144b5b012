import type { ClientTarget, ServedFrom } from './protocol.js';
import { callId } from './query-key.js';

/** What the server said about the result of one query call. @internal */
export interface Hint {
  /** When the response arrived (epoch ms, the client's clock). */
  receivedAt: number;
  /**
   * When the result stops being fresh (epoch ms; `Infinity` for never), or
   * `null` when the server memorized nothing for this call.
   */
  staleAt: number | null;
  /** `'hit'`, `'miss'` or `'stale'` as the server reported it; `undefined` when it did not say. */
  source: ServedFrom | undefined;
  /**
   * `true` when `staleAt` comes from the call's own entry; `false` when it is only the
   * static policy's upper bound (a streamed response, whose headers leave before the
   * calls run).
   */
  exact: boolean;
  /**
   * The tags the server reported for the result's entry: `[]` for none, `'*'` for
   * too many to list, `undefined` when it did not say (a server or response
   * without the report).
   */
  tags: readonly string[] | '*' | undefined;
}

/** A successful mutation, as the link saw it. @internal */
export interface MutationNotice {
  /** The mutation's path. */
  path: string;
  /** What the server said it invalidated; `undefined` when the response carried no trpc-memory headers. */
  invalidated: ClientTarget[] | undefined;
}

/** What `onMutation` calls after each successful mutation. @internal */
export type Listener<T extends object> = (target: T, notice: MutationNotice) => void;

/** The most hints kept; the oldest are dropped past it, so the registry never grows without bound. */
const MAX_CALLS = 10_000;

/** The registered symbol under which a {@link CacheHints} carries its registry (works across package copies). */
const REGISTRY: unique symbol = Symbol.for('trpc-memory.cache-hints.v1') as never;

/** What a {@link CacheHints} holds and does; reached through {@link registryOf}. @internal */
export class HintRegistry {
  readonly #byCall = new Map<string, Hint[]>();
  readonly #listeners = new Set<{ target: WeakRef<object>; listener: Listener<object> }>();

  /** Records the hint of a query call. */
  record(path: string, input: unknown, hint: Hint): void {
    const id = callId(path, input);
    if (id === undefined) return;
    const previous = this.#byCall.get(id);
    this.#byCall.delete(id);
    // The previous hint still describes the data on screen until the new data lands.
    this.#byCall.set(id, previous === undefined ? [hint] : [previous.at(-1) as Hint, hint]);
    if (this.#byCall.size > MAX_CALLS) {
      const oldest = this.#byCall.keys().next().value;
      if (oldest !== undefined) this.#byCall.delete(oldest);
    }
  }

  /**
   * The hint describing data of this call that arrived at `dataUpdatedAt`:
   * the newest one received no later than that.
   */
  lookup(path: string, input: unknown, dataUpdatedAt: number): Hint | undefined {
    const id = callId(path, input);
    const hints = id === undefined ? undefined : this.#byCall.get(id);
    if (hints === undefined) return undefined;
    for (let i = hints.length - 1; i >= 0; i--) {
      const hint = hints[i] as Hint;
      if (hint.receivedAt <= dataUpdatedAt) return hint;
    }
    return undefined;
  }

  /**
   * Calls `listener(target, notice)` after each successful mutation for
   * as long as `target` lives: it is held weakly, so a forgotten QueryClient
   * (one per server-side render, say) is not kept alive by the registry.
   */
  onMutation<T extends object>(target: T, listener: Listener<T>): () => void {
    this.#prune();
    const entry = { target: new WeakRef<object>(target), listener: listener as Listener<object> };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Drops the listeners of collected targets, which an app that never mutates would pile up. */
  #prune(): void {
    for (const entry of this.#listeners)
      if (entry.target.deref() === undefined) this.#listeners.delete(entry);
  }

  /** Tells every live listener about a successful mutation. */
  mutated(notice: MutationNotice): void {
    for (const entry of this.#listeners) {
      const target = entry.target.deref();
      if (target === undefined) this.#listeners.delete(entry);
      else entry.listener(target, notice);
    }
  }
}

/**
 * Where `cacheHintsLink` records what the server said about each call and where
 * `mirrorServerTtl` reads it. One shared instance is used by default, which is what
 * a browser app needs; give each side the same `createCacheHints()` instance to
 * keep several clients apart (e.g. one per request during server-side rendering).
 *
 * @example
 * ```ts
 * const hints = createCacheHints();
 * const trpc = createTRPCClient<AppRouter>({ links: [cacheHintsLink({ hints }), httpLink({ url })] });
 * mirrorServerTtl(queryClient, { hints });
 * ```
 */
export class CacheHints {
  readonly #registry = new HintRegistry();

  constructor() {
    Object.defineProperty(this, REGISTRY, { value: this.#registry });
  }
}

/** Whether `value` is a {@link CacheHints} made by this or another loaded copy of the package. @internal */
export function isCacheHints(value: unknown): value is CacheHints {
  if (value === null || typeof value !== 'object') return false;
  const registry = (value as { [REGISTRY]?: unknown })[REGISTRY];
  return registry !== null && typeof registry === 'object';
}

/** The registry of `hints` (made by this or another loaded copy of the package). @internal */
export function registryOf(hints: CacheHints): HintRegistry {
  return (hints as unknown as { [REGISTRY]: HintRegistry })[REGISTRY];
}

/**
 * A registry of server cache hints, to share between one `cacheHintsLink` and
 * `mirrorServerTtl` when the default shared registry is not wanted.
 *
 * @example
 * ```ts
 * // one per server-side render, so requests never see each other's hints
 * const hints = createCacheHints();
 * const queryClient = new QueryClient();
 * mirrorServerTtl(queryClient, { hints });
 * const trpc = createTRPCClient<AppRouter>({ links: [cacheHintsLink({ hints }), httpBatchLink({ url, headers: cacheHintsHeaders() })] });
 * ```
 */
export function createCacheHints(): CacheHints {
  return new CacheHints();
}

/** The registry `cacheHintsLink` and `mirrorServerTtl` share when given none. @internal */
export const defaultHints: CacheHints = new CacheHints();
