import { InvalidOptionError } from '../errors.js';

/** Rejects option names the function does not know (a `ttl` meant as `expire`, say). */
export function assertKnownOptions(where: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError(
      where,
      'options',
      options,
      `an object with ${known.join(', ')} (or omitted)`,
    );
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      const value = (options as Record<string, unknown>)[name];
      throw new InvalidOptionError(where, name, value, `left out: the known options are ${known.join(', ')}`);
    }
  }
}

export function assertNamespace(where: string, namespace: unknown): asserts namespace is string | undefined {
  if (namespace === undefined) return;
  if (typeof namespace !== 'string' || namespace.length === 0) {
    throw new InvalidOptionError(where, 'namespace', namespace, 'a non-empty string (or omitted)');
  }
}

/**
 * Accepts anything with the cache methods `memorize`/`memorizeFn` call (not only a
 * `Cache` of this copy of the package), so two copies of the package still work
 * together, while a cache missing one of them is refused here rather than failing
 * every request.
 */
const CACHE_METHODS = ['read', 'readStored', 'store', 'decodeStored'] as const;

export function assertCache(where: string, cache: unknown): void {
  if (cache === undefined) return;
  const candidate = cache as Record<string, unknown> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    CACHE_METHODS.some((method) => typeof candidate[method] !== 'function')
  ) {
    throw new InvalidOptionError(where, 'cache', cache, 'a cache made by createCache() (or omitted)');
  }
}
