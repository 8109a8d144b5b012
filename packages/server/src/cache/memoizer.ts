/**
 * The memoizer core: the one place that turns "a key and a way to compute its
 * value" into a cached answer, for `memorize` (tRPC middleware) and `memorizeFn`
 * (plain functions). Those two only adapt: they parse their options, build the
 * entry key (through the key module), and `memorize` reports each call to the
 * response and learns which input keys a procedure. Everything below the key is
 * here.
 *
 * The flow of one call:
 *
 * 1. **Read** ({@link Memoizer.read}): the entry under the key, decoded into a copy
 *    of its own for this call (the cache's decode memo makes that copy cheap), or
 *    `undefined` when absent, expired or unreadable. This is the hit path: one
 *    backend read, no allocation beyond the copy, no extra promise tick when the
 *    backend answers synchronously.
 * 2. **Compute through** ({@link Memoizer.computeThrough}), on a miss: the call
 *    joins the key's *flight* ({@link Flight}), so concurrent misses of one key run
 *    `compute` once. The computation reads once more (another flight may have
 *    stored the entry since the caller's read), runs `compute`, and **stores** the
 *    result for the call's `ttl` (under `storeKeyOf()` when given: memorize decides
 *    only after running whether its key was a safe one).
 * 3. **Per-call copy**: the call whose `compute` ran gets compute's own object;
 *    every call that waited decodes its own copy from the stored entry, so what
 *    one caller mutates no other sees (a value the cache cannot encode is shared
 *    as is). A waiting call counts as a hit once the entry is stored. In
 *    by-reference mode ({@link MemoizerOptions.byReference}) there is no copy:
 *    every call, hits and the computing one alike, gets the entry's one
 *    deep-frozen value.
 *
 * {@link Memoizer.memoize} is read then compute-through, for callers with
 * nothing to do in between (`memorizeFn`); `memorize` calls the two steps itself.
 *
 * **Grace** ({@link MemoizerOptions.grace}, `staleWhileRevalidate` /
 * `staleIfError`, see `grace.ts`): entries are stored for `ttl + keep` in the
 * backend while the entry keeps its fresh-until; `read` then also returns an entry
 * past it within a window, marked `stale`, which is no hit: the adapter hands it to
 * `computeThrough` (as {@link MissCall.stale}), which answers with it at once and
 * refreshes in the background (revalidate window), or computes and answers with it
 * when `compute` fails with a server failure (if-error window). Without grace the
 * hit path is exactly the plain one.
 *
 * Where later capabilities plug in:
 * - **Tags** travel per call in {@link MissCall.guards}: tokens read before
 *   computing, stored with the entry, checked when an entry is found (see
 *   `tags.ts`). The memoizer remembers, per key, the guards of the entry it last
 *   read or stored there (its `GuardHints`), so that {@link Memoizer.prefetch}
 *   starts reading tags computed from the result together with the entry;
 *   {@link Memoizer.holds} checks a found entry's guards whatever was remembered.
 * - **The namespace's fence** ({@link MissCall.fence}, see `fence.ts`): read with
 *   the re-read of step 2, read again once the result is stored; when a path or
 *   input invalidation deleted it meanwhile, the entry just stored is deleted and
 *   the call reports it as not stored. Only the miss path reads it; it applies to
 *   whoever stores (a grace refresh, the holder of a distributed flight).
 * - **Per-entry policy** that does not depend on the call (grace windows such as
 *   stale-while-revalidate / stale-if-error, a
 *   by-reference hit mode) belongs in {@link MemoizerOptions}, fixed when the
 *   memoizer is made by {@link createMemoizer}; what depends on the call (the key,
 *   the `ttl`, which falls back to the cache's default looked up at call time)
 *   travels in {@link MissCall}.
 * - **The flight** is a {@link Flight}: {@link localFlight} (in-process
 *   single-flight) by default, or `distributedFlight` (distributed-flight.ts),
 *   which adds a lock per key across processes when the backend has one.
 * - **Cache access** goes through the cache's internals (`cache-internals.ts`),
 *   never through the public `Cache` methods.
 *
 * Nothing here throws for a cache failure: reads and writes that fail are
 * reported through the cache's `onError` and the call goes on as a miss.
 *
 * @internal Not exported from the package entry.
 */
import type { Cache } from './cache.js';
import { coreOf } from './cache-internals.js';
import { now } from './clock.js';
import type { DecodedEntry, EntryGuards } from './codec.js';
import { dropStored, fenceBefore, fenceHolds, readFence } from './fence.js';
import { type Grace, isServerFailure, within } from './grace.js';
import { EPOCH_STATE } from './key.js';
import { type SingleFlight, singleFlight } from './single-flight.js';
import {
  finishGuards,
  GuardHints,
  type GuardPlan,
  guardsBeyond,
  guardsHold,
  type Prefetched,
  prefetchTokens,
  prepareGuards,
} from './tags.js';

/** What a call with computed tags prefetches for a key it has no hint of. */
const EPOCH_ONLY: readonly string[] = [EPOCH_STATE];

/** A cache entry as a call reads it: its value (this call's own copy) and absolute expiry. */
export interface MemoEntry extends DecodedEntry {
  /**
   * `true` for an entry past its expiry but within a grace window (only a memoizer
   * with {@link MemoizerOptions.grace} reads those): not a hit, hand it to
   * {@link Memoizer.computeThrough} as {@link MissCall.stale}.
   */
  stale?: boolean;
}

/** The outcome of one computation, shared by every call that waited for it. */
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
  /** The tags the entry was stored with (or was found with). */
  tags: readonly string[] | undefined;
}

/** What one call gets from the memoizer. */
export interface Outcome {
  /** The value: this call's own copy, except for the call whose `compute` ran. */
  data: unknown;
  /**
   * `'hit'` when the value came from the cache (or from a stored concurrent
   * computation), `'stale'` when it is an entry past its expiry served within a
   * grace window.
   */
  source: 'hit' | 'miss' | 'stale';
  /** Whether the entry is in the cache. */
  stored: boolean;
  /** Absolute expiry in epoch ms; `undefined` for none (or not stored). */
  expiresAt: number | undefined;
  /** The tags of the entry (`memorize({ tags })`); `undefined` for none. */
  tags: readonly string[] | undefined;
}

/** One miss, as the adapter describes it. */
export interface MissCall {
  /** The entry key (made by the key module, without the cache's prefix). Groups concurrent calls. */
  key: string;
  /** Time to live in seconds; `undefined` for no expiry. */
  ttl: number | undefined;
  /** Computes the value (the resolver, the memorized function). */
  compute: () => Promise<unknown>;
  /** This caller's abort signal: it stops waiting at once when it aborts. */
  signal?: AbortSignal | undefined;
  /**
   * Called once `compute` has run: the key to store under, or `undefined` to store
   * nothing. Default: `key`.
   */
  storeKeyOf?: (() => string | undefined) | undefined;
  /**
   * Another key the value may be stored under by another process: `memorize`'s
   * validated-input key while it is still learning which key a procedure uses. A
   * distributed flight's waiter reads it when `key` holds nothing.
   */
  alternateKey?: string | undefined;
  /** The stale entry {@link Memoizer.read} found (grace): served instead of computing, or of an error. */
  stale?: MemoEntry | undefined;
  /**
   * The guards the entry depends on (its tags; see `tags.ts`):
   * their tokens are read before `compute` runs and stored with the entry, and a
   * found entry counts only while they hold. Default: none.
   */
  guards?: GuardPlan | undefined;
  /**
   * The fence of the entry's namespace (a state key made by `fenceStateKey`): read
   * before `compute` runs and after the result is stored, which is deleted again
   * when a path or input invalidation came in between (see `fence.ts`). Default:
   * none (nothing invalidates the namespace by key).
   */
  fence?: string | undefined;
}

/**
 * How concurrent misses of one key share one computation. `run` calls `compute`
 * at most once per key at a time (within whatever it spans) and hands every
 * waiting caller its outcome; a caller whose `signal` aborts stops waiting at once.
 */
export interface Flight {
  run(
    cache: Cache,
    key: string,
    compute: (signal: AbortSignal) => Promise<Computed>,
    signal: AbortSignal | undefined,
    alternateKey?: string | undefined,
  ): Promise<Computed>;
}

/** In-process single-flight (see `singleFlight`): the default {@link Flight}. */
export function localFlight(): Flight {
  const flight: SingleFlight<Computed> = singleFlight<Computed>();
  return {
    run: (_cache, key, compute, signal) =>
      flight(key, compute, signal === undefined ? undefined : { signal }),
  };
}

/** What is fixed for every call of one memoizer (one `memorize()` / `memorizeFn()`). */
export interface MemoizerOptions {
  /** How concurrent misses share a computation. Default: {@link localFlight}. */
  flight?: Flight | undefined;
  /** The grace windows (`staleWhileRevalidate`, `staleIfError`). Default: none. */
  grace?: Grace | undefined;
  /**
   * By-reference mode: every call gets one deep-frozen value per stored entry
   * instead of a copy of its own (the call whose `compute` ran too), so a hit
   * costs no copy and a mutation throws instead of reaching other callers.
   * Values holding a Map, Set or Date are still decoded per call (frozen), since
   * freezing cannot stop `map.set()`. Default: `false` (a copy per call).
   */
  byReference?: boolean | undefined;
}

/** See the module header. */
export interface Memoizer {
  /**
   * The entry under `key` (this call's own copy, or the shared frozen value in
   * by-reference mode), or `undefined`: the hit path. Never rejects. Answers
   * without a promise when the backend does (memory) and there is no grace, which
   * saves the hit a tick; `await` it either way. `full`, when given, is the backend
   * key of `key` ({@link Memoizer.backendKey}): a caller that keeps it for a key it
   * reads often saves building and hashing it per call. A guarded entry (tags)
   * comes back with its `guarded` header: check it with {@link Memoizer.holds}
   * before serving it (the adapter starts reading the tokens with
   * {@link Memoizer.prefetch} before the entry, so that both travel together).
   */
  read(cache: Cache, key: string, full?: string): MemoEntry | undefined | Promise<MemoEntry | undefined>;
  /**
   * Starts reading, before the entry under `key` is read, the tokens its guards
   * are expected to hold: those of `known` (the fixed tags) and, with tags
   * `computed` from the result, of the state keys the entry last seen under `key`
   * had besides, or when none was seen here, the cache's epoch (which vouches for
   * those tags while no tag was invalidated since the entry was computed). A hint
   * only: {@link Memoizer.holds} checks every guard.
   */
  prefetch(cache: Cache, key: string, known: readonly string[], computed: boolean): Prefetched;
  /**
   * Whether every guard of an entry found under `key` still holds (a plain boolean
   * when every token is at hand), reading the tokens `prefetched` lacks; remembers
   * the entry's guards beyond `known` for the next {@link Memoizer.prefetch} of
   * `key` (when the caller prefetched: a caller without guards of its own learns nothing).
   */
  holds(
    cache: Cache,
    key: string,
    guarded: EntryGuards,
    prefetched: Prefetched | undefined,
    known: readonly string[],
  ): boolean | Promise<boolean>;
  /** The backend key of the entry key `key` in `cache` (its prefix prepended). */
  backendKey(cache: Cache, key: string): string;
  /** The miss path: single-flight compute, store, per-call copy. Rejects only with `compute`'s error (or the abort reason). */
  computeThrough(cache: Cache, call: MissCall): Promise<Outcome>;
  /** {@link read}, then on a miss {@link computeThrough}. */
  memoize(cache: Cache, call: MissCall): Promise<Outcome>;
}

/** Makes a memoizer; one per `memorize()` / `memorizeFn()` (its flight groups that one's calls). */
export function createMemoizer(options: MemoizerOptions = {}): Memoizer {
  const flight = options.flight ?? localFlight();
  const { grace } = options;
  const keep = grace?.keep ?? 0;
  const shared = options.byReference === true;

  /** Without grace, the hit path as it always was; with it, stale entries within a window too. */
  const read: Memoizer['read'] =
    grace === undefined
      ? (cache, key, full) => {
          const core = coreOf(cache);
          return core.readAt(full ?? core.head + key, shared);
        }
      : async (cache, key) => {
          const entry: MemoEntry | undefined = await coreOf(cache).readAny(key, shared);
          const expiresAt = entry?.expiresAt;
          if (entry === undefined || expiresAt === undefined) return entry;
          const at = now();
          if (at < expiresAt) return entry;
          if (!within(expiresAt, Math.max(grace.revalidateMs, grace.ifErrorMs), at)) return undefined;
          // A new object: a by-reference entry is frozen and shared.
          return { value: entry.value, expiresAt, stale: true };
        };
  const backendKey = (cache: Cache, key: string) => coreOf(cache).head + key;

  /** Made by the first entry with guards beyond its calls' known ones: untagged memoizers never have any. */
  let hints: GuardHints | undefined;
  const prefetch: Memoizer['prefetch'] = (cache, key, known, computed) =>
    prefetchTokens(cache, known, computed ? (hints?.of(key) ?? EPOCH_ONLY) : undefined);
  const learn = (key: string, guards: EntryGuards['guards'], known: readonly string[]) => {
    if (hints === undefined) {
      if (!guardsBeyond(guards, known)) return;
      hints = new GuardHints();
    }
    hints.see(key, guards, known);
  };
  const holds: Memoizer['holds'] = (cache, key, guarded, prefetched, known) => {
    if (prefetched !== undefined) learn(key, guarded.guards, known);
    return guardsHold(cache, guarded, prefetched);
  };

  const staleOutcome = (entry: MemoEntry): Outcome => ({
    data: entry.value,
    source: 'stale',
    stored: true,
    expiresAt: entry.expiresAt,
    tags: entry.guarded?.tags,
  });

  /** Grace: a stale entry answers at once (revalidate) or in place of a server failure (if-error). */
  const computeWithGrace = async (
    cache: Cache,
    call: MissCall,
    stale: MemoEntry,
    windows: Grace,
  ): Promise<Outcome> => {
    const core = coreOf(cache);
    const expiresAt = stale.expiresAt as number;
    const ageAt = (now: number) => (now - expiresAt) / 1000;
    if (within(expiresAt, windows.revalidateMs, now())) {
      core.reportStale('revalidate', call.key, ageAt(now()));
      // One background refresh: it joins the key's flight, which concurrent stale calls share.
      // It runs without this caller's signal (the caller does not wait for it).
      void computeFresh(cache, { ...call, signal: undefined, stale: undefined }).catch((error: unknown) => {
        core.reportStale('refresh-failed', call.key, ageAt(now()), error);
      });
      return staleOutcome(stale);
    }
    try {
      return await computeFresh(cache, call);
    } catch (error) {
      const at = now();
      if (!isServerFailure(error) || !within(expiresAt, windows.ifErrorMs, at) || call.signal?.aborted) {
        throw error;
      }
      core.reportStale('error', call.key, ageAt(at), error);
      return staleOutcome(stale);
    }
  };

  const computeThrough = (cache: Cache, call: MissCall): Promise<Outcome> => {
    const { stale } = call;
    if (grace !== undefined && stale?.stale === true) return computeWithGrace(cache, call, stale, grace);
    return computeFresh(cache, call);
  };

  const computeFresh = async (cache: Cache, call: MissCall): Promise<Outcome> => {
    const { key, ttl, compute, storeKeyOf, guards: plan, fence } = call;
    const core = coreOf(cache);
    let ran = false;
    const outcome = await flight.run(
      cache,
      key,
      async (): Promise<Computed> => {
        ran = true;
        // Issued together with the re-read below: one round trip on Redis.
        const fenceRead = fence === undefined ? undefined : readFence(cache, fence);
        // Another flight may have stored the entry between the caller's read and now.
        const hit = await storedHit(cache, await core.readStored(key, shared));
        if (hit !== undefined) return hit;
        // Tokens read before computing: a tag invalidated from now on kills what is
        // stored, and a path or input invalidation moves the fence.
        const [prepared, fenceToken] = await Promise.all([
          plan === undefined ? undefined : prepareGuards(cache, plan, ttl),
          fence === undefined ? undefined : fenceBefore(cache, fence, fenceRead, ttl),
        ]);
        const data = await compute();
        const storeKey = storeKeyOf === undefined ? key : storeKeyOf();
        const entryGuards =
          plan === undefined || prepared === undefined
            ? undefined
            : await finishGuards(cache, plan, prepared, data, ttl);
        if (storeKey === undefined || entryGuards === null) {
          return {
            data,
            source: 'miss',
            // Not kept, but encoded all the same: each waiting call decodes its own copy.
            raw: core.encode(storeKey ?? key, data, undefined)?.raw,
            stored: false,
            expiresAt: undefined,
            tags: undefined,
          };
        }
        // Without the fence's token an invalidation meanwhile would go unnoticed: the
        // entry is encoded (the waiting calls decode their copies from it), not stored.
        const written =
          fence !== undefined && fenceToken === undefined
            ? core.encode(storeKey, data, ttl, entryGuards)
            : await core.store(storeKey, data, ttl, keep, entryGuards);
        let stored = written?.stored === true;
        // Stored, then checked (never the other way round: see `fence.ts`).
        if (stored && fence !== undefined && fenceToken !== undefined) {
          if (!(await fenceHolds(cache, fence, fenceToken))) {
            await dropStored(cache, storeKey);
            stored = false;
          }
        }
        // Its computed tags' tokens are then read with the entry from the next call on.
        if (stored && entryGuards !== undefined && plan?.tagsOf !== undefined) {
          learn(storeKey, entryGuards.guards, plan.keys);
        }
        // By reference, every call (this one too) gets the frozen value decoded from the entry.
        const frozen =
          shared && written !== undefined ? core.decodeStored(storeKey, written.raw, true) : undefined;
        return {
          data: frozen === undefined ? data : frozen.value,
          source: 'miss',
          raw: written?.raw,
          stored,
          expiresAt: written?.expiresAt,
          tags: entryGuards?.tags,
        };
      },
      call.signal,
      call.alternateKey,
    );
    const { stored, expiresAt, tags } = outcome;
    if (ran) return { data: outcome.data, source: outcome.source, stored, expiresAt, tags };
    // By reference, the entry's shared frozen value (the memo hands the same one out again).
    const copy = outcome.raw === undefined ? undefined : core.decodeStored(key, outcome.raw, shared);
    return {
      data: copy === undefined ? outcome.data : copy.value,
      source: stored ? 'hit' : outcome.source,
      stored,
      expiresAt,
      tags,
    };
  };

  const memoize = async (cache: Cache, call: MissCall): Promise<Outcome> => {
    let entry = await read(cache, call.key);
    const guarded = entry?.guarded;
    if (guarded !== undefined) {
      // An entry whose tag was invalidated is gone, stale or not: never served, not even in grace.
      const plan = call.guards;
      const held = holds(cache, call.key, guarded, plan?.prefetched, plan === undefined ? [] : plan.keys);
      if (held !== true && (held === false || !(await held))) entry = undefined;
    }
    if (entry !== undefined && entry.stale !== true) {
      return {
        data: entry.value,
        source: 'hit',
        stored: true,
        expiresAt: entry.expiresAt,
        tags: guarded?.tags,
      };
    }
    return computeThrough(cache, entry === undefined ? call : { ...call, stale: entry });
  };

  return { read, backendKey, prefetch, holds, computeThrough, memoize };
}

/**
 * A stored entry as the outcome of a computation that found it (another flight, or
 * another instance, stored it meanwhile); `undefined` when there is none or it was
 * stored dead (a tag of it was invalidated while it was computed).
 */
export async function storedHit(
  cache: Cache,
  found: { entry: DecodedEntry; raw: string } | undefined,
): Promise<Computed | undefined> {
  if (found === undefined) return undefined;
  const { entry, raw } = found;
  const guarded = entry.guarded;
  if (guarded !== undefined && !(await guardsHold(cache, guarded))) return undefined;
  return {
    data: entry.value,
    source: 'hit',
    raw,
    stored: true,
    expiresAt: entry.expiresAt,
    tags: guarded?.tags,
  };
}
