import { Cache } from '../cache/cache.js';
import { isCache } from '../cache/cache-internals.js';
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
 * Accepts a `Cache` of this copy of the package or of another loaded copy (it
 * carries the same registered-symbol brand, see `cache-internals.ts`), so two
 * copies of the package still work together, while anything else is refused here
 * rather than failing every request.
 */
export function assertCache(where: string, cache: unknown): void {
  if (cache === undefined) return;
  if (!(cache instanceof Cache) && !isCache(cache)) {
    throw new InvalidOptionError(where, 'cache', cache, 'a cache made by createCache() (or omitted)');
  }
}
