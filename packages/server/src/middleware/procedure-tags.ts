import type { AnyTRPCProcedure, AnyTRPCRouter } from '@trpc/server';
import type { Cache } from '../cache/cache.js';
import { CacheManager } from '../cache/manager.js';
import { type NormalizedTarget, uniqueTargets } from './invalidation.js';

/**
 * Set on the middleware function `memorize()` returns; `cachePolicy(router)` finds
 * memorized procedures by walking `procedure._def.middlewares` for it.
 *
 * @internal
 */
export const MEMORIZE_TAG: unique symbol = Symbol.for('trpc-memory.memorize');

/** The static facts `cachePolicy` reads from a tagged middleware. @internal */
export interface MemorizeTag {
  expire: number | undefined;
  namespace: string | undefined;
  visibility: 'public' | 'private';
  /** The cache the middleware uses, when given explicitly. */
  cache: unknown;
  /** The `key` function, when given (input targets call it). */
  key?: unknown;
  /** The `scope` function of a private procedure (input targets call it for the invalidating context). */
  scope?: unknown;
  /** The tags: a fixed list, `'computed'` when a function of the call, `undefined` for none. */
  tags?: readonly string[] | 'computed' | undefined;
}

/**
 * Set on the middleware function `invalidates()` returns, so `cachePolicy(router)`
 * can list a mutation's static paths.
 *
 * @internal
 */
export const INVALIDATES_TAG: unique symbol = Symbol.for('trpc-memory.invalidates');

/** @internal `targets` is `undefined` when they are computed per call. */
export interface InvalidatesTag {
  targets: readonly NormalizedTarget[] | undefined;
}

type Tagged = { [MEMORIZE_TAG]?: MemorizeTag; [INVALIDATES_TAG]?: InvalidatesTag };

function middlewaresOf(procedure: unknown): readonly Tagged[] {
  const def = (procedure as { _def?: { middlewares?: unknown } } | null | undefined)?._def;
  return Array.isArray(def?.middlewares) ? (def.middlewares as Tagged[]) : [];
}

/** The options of the `memorize()` middleware on `procedure`, if any. @internal */
export function memorizeTagOf(procedure: unknown): MemorizeTag | undefined {
  for (const middleware of middlewaresOf(procedure)) {
    const tag = middleware[MEMORIZE_TAG];
    if (tag !== undefined) return tag;
  }
  return undefined;
}

/** The static targets of the `invalidates()` middlewares on `procedure`, if any. @internal */
export function invalidatesTagOf(procedure: unknown): InvalidatesTag | undefined {
  let found: InvalidatesTag | undefined;
  for (const middleware of middlewaresOf(procedure)) {
    const tag = middleware[INVALIDATES_TAG];
    if (tag === undefined) continue;
    // Several invalidates() on one procedure: their union; one computed list makes the whole computed.
    found =
      found === undefined
        ? tag
        : {
            targets:
              found.targets === undefined || tag.targets === undefined
                ? undefined
                : uniqueTargets([...found.targets, ...tag.targets]),
          };
  }
  return found;
}

/** The cache a memorized procedure uses: its own, else the global one when initialised. @internal */
export function cacheOfTag(tag: MemorizeTag): Cache | undefined {
  if (tag.cache !== undefined) return tag.cache as Cache;
  return CacheManager.initialized ? CacheManager.instance : undefined;
}

/** The time to live in seconds a memorized procedure stores with; `undefined` for none. @internal */
export function effectiveExpire(tag: MemorizeTag): number | undefined {
  return tag.expire ?? cacheOfTag(tag)?.expire;
}

/** The router's flat map of dotted path → procedure (typed by tRPC as the nested record). @internal */
export function proceduresOf(router: AnyTRPCRouter): Record<string, AnyTRPCProcedure> {
  return router._def.procedures as unknown as Record<string, AnyTRPCProcedure>;
}
