import { lruWrapper, type Memoized } from './lru.js';

const singleton = lruWrapper('cachedSingleton()', { maxSize: 1 });

/**
 * Turns a zero-argument factory into a singleton getter (fastapi-memory's
 * `cached_singleton`, i.e. `lru({ maxSize: 1 })`): the factory runs once and
 * every call returns its result. For an async factory, concurrent first calls
 * share one promise, and a rejected promise is not kept: the next call runs the
 * factory again. `cacheClear()` forgets the instance (handy in tests). Also a
 * standard (TC39) decorator for zero-argument methods, one result per instance.
 *
 * @example
 * ```ts
 * export const getSettings = cachedSingleton(() => loadSettings(process.env));
 * export const getDb = cachedSingleton(async () => connect(getSettings().databaseUrl));
 *
 * const db = await getDb(); // connects once, even when many requests ask at once
 * ```
 */
export function cachedSingleton<F extends () => unknown>(
  factory: F,
  context?: ClassMethodDecoratorContext,
): Memoized<F> {
  const memoized = singleton(factory, context);
  if (context !== undefined && !context.static && !context.private) {
    // One shared cache of size 1 would make two instances evict each other's
    // result, running the factory again at every alternation: give each
    // instance a singleton of its own, collected with it.
    const name = context.name;
    context.addInitializer(function (this: unknown) {
      Object.defineProperty(this, name, {
        value: singleton(factory),
        writable: true,
        configurable: true,
      });
    });
  }
  return memoized;
}
