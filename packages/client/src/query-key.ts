/**
 * The query key `@trpc/tanstack-react-query` (and `createMemoHooks`) use:
 * `[path.split('.'), { input?, type }]`.
 *
 * @example
 * ```ts
 * const key: TRPCQueryKey = [['post', 'byId'], { input: { id: '1' }, type: 'query' }];
 * ```
 */
export type TRPCQueryKey = [path: string[], meta: { input?: unknown; type: 'query' | 'infinite' }];

/**
 * The mutation key: `[path.split('.')]`.
 *
 * @example
 * ```ts
 * queryClient.isMutating({ mutationKey: api.post.rename.mutationKey() satisfies TRPCMutationKey });
 * ```
 */
export type TRPCMutationKey = [path: string[]];

/** A tRPC query key taken apart. @internal */
export interface ParsedQueryKey {
  path: string;
  input: unknown;
  type: 'query' | 'infinite';
}

/** A procedure path taken apart (`['post', 'byId']`). @internal */
export function isPath(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every((part) => typeof part === 'string');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The path, input and type of a tRPC query key, with or without the optional
 * `keyPrefix` of `@trpc/tanstack-react-query` (`[[prefix], path, meta]`);
 * `undefined` for any other key.
 *
 * @internal
 */
export function parseQueryKey(queryKey: readonly unknown[]): ParsedQueryKey | undefined {
  const [pathPart, metaPart] =
    queryKey.length === 3 && isPath(queryKey[0]) && queryKey[0].length === 1
      ? [queryKey[1], queryKey[2]]
      : queryKey.length === 2
        ? [queryKey[0], queryKey[1]]
        : [undefined, undefined];
  if (!isPath(pathPart) || !isPlainObject(metaPart)) return undefined;
  const { type } = metaPart;
  if (type !== 'query' && type !== 'infinite') return undefined;
  return { path: pathPart.join('.'), input: metaPart.input, type };
}

/** The query key of a query procedure call, in `@trpc/tanstack-react-query`'s format. @internal */
export function queryKeyOf(path: string, input: unknown): TRPCQueryKey {
  return [path.split('.'), input === undefined ? { type: 'query' } : { input, type: 'query' }];
}

/**
 * A string that is equal for equal (path, input) pairs, with object keys in any
 * order (like React Query's `hashKey`); `undefined` for an input JSON cannot
 * represent (a BigInt, a cycle), which then simply gets no hint.
 *
 * @internal
 */
export function callId(path: string, input: unknown): string | undefined {
  try {
    return JSON.stringify([path, input ?? null], (_key, value: unknown) =>
      isPlainObject(value)
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((key) => [key, value[key]]),
          )
        : value,
    );
  } catch {
    return undefined;
  }
}

/**
 * Whether `b` is a partial of `a`, as React Query's `invalidateQueries({ queryKey })`
 * decides it: equal primitives; arrays where `b` is no longer than `a` and matches
 * it item by item; objects where every key of `b` matches the same key of `a`.
 * Written out here because `@tanstack/react-query` exports its own only from later
 * 5.x releases than the oldest this package supports.
 *
 * @internal
 */
export function partialMatchKey(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b) return false;
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    if (Array.isArray(a) && Array.isArray(b)) {
      if (b.length > a.length) return false;
      for (let i = 0; i < b.length; i++) if (!partialMatchKey(a[i], b[i])) return false;
      return true;
    }
    const left = a as Record<string, unknown>;
    const right = b as Record<string, unknown>;
    for (const key of Object.keys(right)) if (!partialMatchKey(left[key], right[key])) return false;
    return true;
  }
  return false;
}
