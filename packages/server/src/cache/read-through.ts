import type { Cache } from './cache.js';
import type { SingleFlight } from './single-flight.js';

/** @internal The outcome of one computation, shared by every call that waited for it. */
export interface Computed {
  /** The value, as the call that ran the computation returns it. */
  data: unknown;
  /** `'hit'` when the computation found the entry stored meanwhile, `'miss'` when `compute` ran. */
  source: 'hit' | 'miss';
  /**
   * The entry as encoded for the cache, from which each waiting call decodes its
   * own copy; `undefined` when the value could not be encoded.
   */
  raw: string | undefined;
  /** Whether the entry is in the cache. */
  stored: boolean;
  /** Absolute expiry in epoch ms; `undefined` for none (or not stored). */
  expiresAt: number | undefined;
}

/** @internal What one call gets from {@link computeThrough}. */
export type ComputedCall = Omit<Computed, 'raw'>;

/**
 * @internal The miss path of `memorize` and `memorizeFn`: concurrent calls for
 * `key` run `compute` once (see `singleFlight`), its result is stored for `ttl`
 * seconds, and every call that waited gets its own copy decoded from the stored
 * entry, so what one caller mutates no other sees. Such a call counts as a hit
 * once the entry is stored. Only the call whose `compute` ran gets its own object
 * (and so does every call when the value could not be encoded).
 *
 * `storeKeyOf`, when given, names the key to store under once `compute` has run
 * (`key` still groups the calls and is read first), or `undefined` to store
 * nothing: memorize learns from a computation whether its input was keyed safely.
 */
export async function computeThrough(
  cache: Cache,
  flight: SingleFlight<Computed>,
  key: string,
  ttl: number | undefined,
  compute: () => Promise<unknown>,
  signal?: AbortSignal,
  storeKeyOf?: () => string | undefined,
): Promise<ComputedCall> {
  let ran = false;
  const outcome = await flight(
    key,
    async (): Promise<Computed> => {
      ran = true;
      // Another flight may have stored the entry between the caller's read and now.
      const found = await cache.readStored(key);
      if (found !== undefined) {
        const { entry, raw } = found;
        return { data: entry.value, source: 'hit', raw, stored: true, expiresAt: entry.expiresAt };
      }
      const data = await compute();
      const storeKey = storeKeyOf === undefined ? key : storeKeyOf();
      if (storeKey === undefined) {
        return { data, source: 'miss', raw: undefined, stored: false, expiresAt: undefined };
      }
      const written = await cache.store(storeKey, data, ttl);
      return {
        data,
        source: 'miss',
        raw: written?.raw,
        stored: written?.stored === true,
        expiresAt: written?.expiresAt,
      };
    },
    { signal },
  );
  const { stored, expiresAt } = outcome;
  if (ran) return { data: outcome.data, source: outcome.source, stored, expiresAt };
  const copy = outcome.raw === undefined ? undefined : cache.decodeStored(key, outcome.raw);
  return {
    data: copy === undefined ? outcome.data : copy.value,
    source: stored ? 'hit' : outcome.source,
    stored,
    expiresAt,
  };
}
