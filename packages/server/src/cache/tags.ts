import type { CacheBackend, MaybePromise } from '../backends/types.js';
import type { Cache } from './cache.js';
import { coreOf } from './cache-internals.js';
import type { EntryGuards } from './codec.js';
import { EPOCH_STATE, tagStateKey } from './key.js';

/**
 * Tags: how an entry stored under one key is dropped by an invalidation that names
 * something else (a tag, whatever the procedures and scopes carrying it).
 *
 * The mechanism is a **token per state key** (a tag's `%T:<tag>`, see the key
 * module), stored as an ordinary entry:
 * - before a computation starts, the tokens of the keys its entry will depend on
 *   are read (a missing one is created with a fresh random token), and the entry is
 *   stored with them (its `guarded` header);
 * - a read of a guarded entry reads those keys too and serves the entry only when
 *   each still holds the token it was stored with;
 * - invalidating deletes the state key. Every entry that recorded its token is dead
 *   from then on, wherever it lives (any slot of a Cluster, any tier), with one
 *   delete however many entries carry the tag, and no entry has to be found.
 *
 * Deleting instead of bumping a counter needs no atomic increment (a lost update of a
 * read-modify-write could let an entry through) and makes a missing key (evicted,
 * expired) read as "invalidated": a guard can only fail towards a miss.
 *
 * Why a token read before the computation: a tag invalidated while the resolver runs
 * deletes the token the entry is about to be stored with, so the late store is dead
 * on arrival. Tags computed from the result (`tags: ({ data }) => …`) are only known
 * afterwards; for them the cache's **epoch** (`%E`) plays the token's part: it is
 * read before the computation, every tag invalidation deletes it before the tags,
 * and the result is stored only when the epoch is unchanged afterwards.
 *
 * Cost: an unguarded entry is read exactly as before. A guarded hit reads one more
 * key per guard, issued together with the entry read (one round trip on Redis) when
 * the reader knows the guards in advance: fixed tags always;
 * computed tags once the memoizer has seen the entry under that key (it stored or
 * read it: {@link GuardHints}). A guard not read in advance is read after the entry
 * (a second round trip), unless the epoch vouches for it:
 *
 * **The epoch stamp.** An entry with computed tags is stored with the epoch its
 * computation read (its stamp), and a call that has no hint for its key reads the
 * epoch together with the entry. While the epoch still holds the stamp, the computed
 * tags' guards hold without being read; otherwise they are read. Why that is sound,
 * in every interleaving: each computed tag's token was read after the stamp was read
 * and before the epoch was found unchanged (the check before storing), so the stamp
 * was the epoch at that moment, and a value of a state key never comes back once
 * deleted (tokens are random). For the token of one of those tags to be deleted,
 * some invalidation of that tag deleted it after it was read, and every tag
 * invalidation deletes the epoch once more *after* its tags ({@link invalidateStates}):
 * from then on the epoch differs from the stamp, for good. So a read that finds the
 * stamp read it before that invalidation finished: it overlapped the invalidation,
 * and serving the entry is what a read just before it would have done. A call
 * starting after `invalidate()` resolved never finds the stamp. Token expiry or
 * eviction is no invalidation (no data changed) and does not matter; an evicted or
 * deleted epoch only fails the stamp, towards reading the tags. The fixed guards,
 * read before the stamp, are not covered by it and are always checked (the stamp
 * records where its guards start). What the stamp costs: one more delete per tag
 * invalidation, the epoch in the entry's header, and one more key read (in the same
 * round trip) by a call without a hint. It makes the first hit of a key in a process
 * one round trip as long as no tag of the cache was invalidated since the entry was
 * stored.
 */

/** One dependency of a guarded entry: a state key and the token it held. */
export type Guard = readonly [key: string, token: string];

/** Read as "not the token of any entry": a failed read must fail the guard. */
const FAILED = '\u0000failed';

/**
 * Created tokens live at least this long (seconds), or as long as the entry that
 * created them when longer; never for an entry that never expires. A token that
 * expires only turns its entries into misses, so this bounds the state a cache
 * keeps for tags no longer used, at the price of a refill per day per tag.
 */
export const TOKEN_TTL_FLOOR = 86_400;

function newToken(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * The token under the state key `key` (relative to the prefix): a string, or
 * `undefined` when absent; a failed read (reported) reads as a token no entry
 * holds. Synchronous on a synchronous backend. `from`: the backend to read it
 * from, when not the cache's own (the store behind a tier, see `fence.ts`).
 */
export function readToken(cache: Cache, key: string, from?: CacheBackend): MaybePromise<string | undefined> {
  const core = coreOf(cache);
  const full = core.head + key;
  let got: ReturnType<Cache['backend']['get']>;
  try {
    got = (from ?? core.backend).get(full);
  } catch (error) {
    core.report('get', full, error);
    return FAILED;
  }
  if (typeof got === 'string' || got == null) return got ?? undefined;
  return got.then(
    (token) => token ?? undefined,
    (error: unknown) => {
      core.report('get', full, error);
      return FAILED;
    },
  );
}

/** Tokens whose reads started before an entry was read (its round trip on Redis), by state key. */
export type Prefetched = Map<string, MaybePromise<string | undefined>>;

/**
 * Starts reading the tokens of `keys`, then of those of `more` not among them, at
 * once (one round trip on Redis), by key.
 */
export function prefetchTokens(cache: Cache, keys: readonly string[], more?: readonly string[]): Prefetched {
  const tokens: Prefetched = new Map();
  for (const key of keys) tokens.set(key, readToken(cache, key));
  if (more !== undefined) {
    for (const key of more) if (!tokens.has(key)) tokens.set(key, readToken(cache, key));
  }
  return tokens;
}

/**
 * Whether every guard of `guarded` still holds: each key holds the token the entry
 * was stored with. Reads what `prefetched` does not already hold. When `prefetched`
 * holds the epoch and it is still the one the entry was stamped with, the guards
 * the stamp covers (its tags computed from the result) hold without being read.
 */
export function guardsHold(
  cache: Cache,
  guarded: EntryGuards,
  prefetched?: Prefetched,
): MaybePromise<boolean> {
  const { guards, epoch: stamp } = guarded;
  if (stamp === undefined || prefetched === undefined || !prefetched.has(EPOCH_STATE)) {
    return tokensHold(cache, guards, guards.length, prefetched);
  }
  const [epoch, from] = stamp;
  const current = prefetched.get(EPOCH_STATE);
  if (typeof current === 'string' || current === undefined) {
    return tokensHold(cache, guards, current === epoch ? from : guards.length, prefetched);
  }
  // The guards before `from` were prefetched with it: waiting for the epoch first costs no round trip.
  return current.then((value) =>
    tokensHold(cache, guards, value === epoch ? from : guards.length, prefetched),
  );
}

/** Whether the first `count` guards of `guards` hold (see {@link guardsHold}). */
function tokensHold(
  cache: Cache,
  guards: EntryGuards['guards'],
  count: number,
  prefetched: Prefetched | undefined,
): MaybePromise<boolean> {
  const pending: Promise<boolean>[] = [];
  for (let i = 0; i < count; i++) {
    const [key, token] = guards[i] as Guard;
    const current = prefetched?.get(key) ?? readToken(cache, key);
    if (typeof current === 'string' || current === undefined) {
      if (current !== token) return false;
    } else {
      pending.push(current.then((value) => value === token));
    }
  }
  if (pending.length === 0) return true;
  return Promise.all(pending).then((held) => held.every(Boolean));
}

/**
 * Per generation of {@link GuardHints}: at most this many entries, and this many
 * bytes as {@link hintBytes} estimates them (measured with `--expose-gc` on
 * Node 20: 310 bytes of heap for a 25-character key with one 17-character state
 * key, 416 with two), so a memoizer holds at most about 1 MB of hints, 1,200 to
 * 4,000 keys of typical sizes, and only once it has seen that many tagged keys.
 */
const HINT_ENTRIES = 2_048;
const HINT_BYTES = 512_000;
/** A hint larger than this is not kept: it would crowd out the many small ones. */
const HINT_MAX_BYTES = 8_192;

const NO_KEYS: readonly string[] = [];

/** The heap a hint holds, estimated: a map slot and an array, and per string its header and characters. */
function hintBytes(key: string, keys: readonly string[]): number {
  let bytes = 160 + key.length;
  for (const state of keys) bytes += 96 + state.length;
  return bytes;
}

/** Whether `hint` is exactly the state keys of `guards` not among `known`, in order. */
function sameHint(hint: readonly string[], guards: EntryGuards['guards'], known: readonly string[]): boolean {
  let at = 0;
  for (const [key] of guards) {
    if (known.includes(key)) continue;
    if (hint[at] !== key) return false;
    at++;
  }
  return at === hint.length;
}

/** Whether some guard of `guards` is not among `known` (an entry with tags computed from its result). */
export function guardsBeyond(guards: EntryGuards['guards'], known: readonly string[]): boolean {
  return !sameHint(NO_KEYS, guards, known);
}

/**
 * What one memoizer remembers of the entries it read or stored: per entry key,
 * the state keys the entry was last seen with beyond those its calls know before
 * reading (the fixed tags), that is its tags computed from the result. The next
 * call of that key starts reading their tokens together with the entry (one round
 * trip on Redis) instead of after it.
 *
 * Only a hint: it chooses what is read in advance, never what is valid. The guards
 * a read checks are always those of the entry it found ({@link guardsHold}), and a
 * guard the hint missed is read then (a second round trip: the first hit of a key in
 * a process, a key whose tags changed, a hint that fell out). A wrong hint costs a
 * token read for nothing, and is corrected by that read.
 *
 * Bounded: two generations of at most {@link HINT_ENTRIES} entries and
 * {@link HINT_BYTES} bytes each. A new hint goes into the recent generation,
 * and a hint found in the older one moves there; when the recent one is full, it
 * becomes the older one and the older one is dropped. So a lookup is one or two map
 * reads with no reordering (a strict LRU reorders on every hit), and the keys read
 * within the last generation stay.
 */
export class GuardHints {
  #recent = new Map<string, readonly string[]>();
  #older = new Map<string, readonly string[]>();
  /** Bytes counted for the recent generation. */
  #bytes = 0;

  /** The state keys the entry under `key` was last seen with beyond the known ones, if remembered. */
  of(key: string): readonly string[] | undefined {
    const recent = this.#recent.get(key);
    if (recent !== undefined) return recent;
    const older = this.#older.get(key);
    if (older !== undefined) {
      this.#older.delete(key);
      this.#keep(key, older);
    }
    return older;
  }

  /**
   * Remembers, for the entry under `key`, the state keys of `guards` not among
   * `known`: allocates nothing when that is what it remembers already (every hit
   * of a key whose tags stay the same).
   */
  see(key: string, guards: EntryGuards['guards'], known: readonly string[]): void {
    if (sameHint(this.#recent.get(key) ?? this.#older.get(key) ?? NO_KEYS, guards, known)) return;
    const keys: string[] = [];
    for (const [state] of guards) if (!known.includes(state)) keys.push(state);
    this.#forget(key);
    if (keys.length > 0) this.#keep(key, keys);
  }

  /** How many entry keys it remembers (for tests). */
  get size(): number {
    return this.#recent.size + this.#older.size;
  }

  #keep(key: string, keys: readonly string[]): void {
    const bytes = hintBytes(key, keys);
    if (bytes > HINT_MAX_BYTES) return;
    if (this.#recent.size >= HINT_ENTRIES || this.#bytes + bytes > HINT_BYTES) {
      this.#older = this.#recent;
      this.#recent = new Map();
      this.#bytes = 0;
    }
    this.#recent.set(key, keys);
    this.#bytes += bytes;
  }

  #forget(key: string): void {
    const recent = this.#recent.get(key);
    if (recent !== undefined) {
      this.#recent.delete(key);
      this.#bytes -= hintBytes(key, recent);
    }
    this.#older.delete(key);
  }
}

/**
 * The current tokens of `keys`, creating the missing ones (with a fresh token, for
 * at least {@link TOKEN_TTL_FLOOR} seconds or `ttl`); `undefined` when one could not
 * be read or written (reported): an entry must then not be stored, since nothing
 * could invalidate it. `store`: the backend to read and write them through, when
 * not the cache's own (the store behind a tier, see `fence.ts`).
 */
export async function ensureTokens(
  cache: Cache,
  keys: readonly string[],
  ttl: number | undefined,
  prefetched?: Prefetched,
  store?: CacheBackend,
): Promise<Guard[] | undefined> {
  const guards = await Promise.all(
    keys.map(async (key): Promise<Guard | undefined> => {
      // A prefetched token was read before this computation started: still good.
      const current = await (prefetched?.get(key) ?? readToken(cache, key, store));
      if (current === FAILED) return undefined;
      if (current !== undefined) return [key, current];
      const created = await createToken(cache, key, ttl, store);
      return created === undefined ? undefined : [key, created];
    }),
  );
  return guards.every((guard) => guard !== undefined) ? (guards as Guard[]) : undefined;
}

/** Token creations in progress, per cache and state key: concurrent misses share one. */
const creating = new WeakMap<Cache, Map<string, Promise<string | undefined>>>();

/**
 * Writes a fresh token under `key` and reads back what is there: when several
 * writers race (other processes), every one of them ends up with the last one
 * written, so their entries agree. `undefined` when the write failed or the key
 * was deleted meanwhile (an invalidation: the entry must not be stored).
 *
 * It reads the key first: the caller found it missing, but maybe a while ago (a
 * read started with the call, or before a creation of this process that has since
 * finished), and writing over a token created since would kill every entry stored
 * with it, and over the epoch, every computation that read it.
 */
function createToken(
  cache: Cache,
  key: string,
  ttl: number | undefined,
  store?: CacheBackend,
): Promise<string | undefined> {
  let pending = creating.get(cache);
  if (pending === undefined) {
    pending = new Map();
    creating.set(cache, pending);
  }
  const running = pending.get(key);
  if (running !== undefined) return running;
  const core = coreOf(cache);
  const full = core.head + key;
  const tokenTtl = ttl === undefined ? undefined : Math.max(ttl, TOKEN_TTL_FLOOR);
  const created = (async (): Promise<string | undefined> => {
    const found = await readToken(cache, key, store);
    if (found === FAILED) return undefined;
    if (found !== undefined) return found;
    try {
      await (store ?? core.backend).set(full, newToken(), tokenTtl);
    } catch (error) {
      core.report('set', full, error);
      return undefined;
    }
    const token = await readToken(cache, key, store);
    return token === FAILED ? undefined : token;
  })();
  const map = pending;
  map.set(key, created);
  void created.finally(() => map.delete(key));
  return created;
}

/**
 * The epoch's token before a computation whose tags are known only afterwards (the
 * one `prefetched` read at the start of the call, when it did).
 */
export async function readEpoch(cache: Cache, prefetched?: Prefetched): Promise<string | undefined> {
  const guards = await ensureTokens(cache, [EPOCH_STATE], undefined, prefetched);
  return guards?.[0]?.[1];
}

/** Whether no tag was invalidated since {@link readEpoch} returned `epoch`. */
export async function epochHolds(cache: Cache, epoch: string): Promise<boolean> {
  return (await readToken(cache, EPOCH_STATE)) === epoch;
}

/**
 * Invalidates the state keys `keys`: every entry guarded by one of them is dead
 * from now on. With `tags` (keys of tags), the epoch is deleted first, so a
 * computation whose tags are known only afterwards cannot store a result that
 * started before, and again last, so no entry stamped with an epoch read before
 * the tags were deleted is vouched for by it afterwards (see the module header).
 * Rejects (after reporting) when the backend fails: the caller asked for entries
 * to be gone.
 */
export async function invalidateStates(cache: Cache, keys: readonly string[], tags: boolean): Promise<void> {
  const core = coreOf(cache);
  const drop = async (key: string) => {
    try {
      await core.backend.delete(core.head + key);
    } catch (error) {
      core.report('delete', core.head + key, error);
      throw error;
    }
  };
  if (tags) await drop(EPOCH_STATE);
  await Promise.all(keys.map(drop));
  if (tags) await drop(EPOCH_STATE);
}

/** What the memoizer knows, before a call computes, about the guards its entry will have. */
export interface GuardPlan {
  /** State keys known before the computation: the fixed tags'. */
  readonly keys: readonly string[];
  /** The fixed tags (reported with the entry). */
  readonly tags: readonly string[];
  /** Tags computed from the result, when the tags are a function; throws for a bad return. */
  readonly tagsOf: ((data: unknown) => readonly string[]) | undefined;
  /** The tokens of `keys`, read together with the entry (the hit path). */
  readonly prefetched: Prefetched | undefined;
}

/** What {@link prepareGuards} read before the computation. */
export interface PreparedGuards {
  guards: Guard[] | undefined;
  epoch: string | undefined;
}

/**
 * Before a computation: the tokens of the plan's keys (created when missing) and,
 * when tags are computed from the result, the epoch.
 */
export async function prepareGuards(
  cache: Cache,
  plan: GuardPlan,
  ttl: number | undefined,
): Promise<PreparedGuards> {
  const [epoch, guards] = await Promise.all([
    plan.tagsOf === undefined ? undefined : readEpoch(cache, plan.prefetched),
    plan.keys.length === 0 ? [] : ensureTokens(cache, plan.keys, ttl, plan.prefetched),
  ]);
  return { guards, epoch };
}

/**
 * After a computation: the tags and guards to store the entry with, or `null` when
 * it must not be stored (a token could not be read or written, or a tag was
 * invalidated while it computed a result whose tags were not known before).
 */
export async function finishGuards(
  cache: Cache,
  plan: GuardPlan,
  prepared: PreparedGuards,
  data: unknown,
  ttl: number | undefined,
): Promise<EntryGuards | null> {
  if (prepared.guards === undefined) return null;
  if (plan.tagsOf === undefined) return { tags: plan.tags, guards: prepared.guards };
  const computed = plan.tagsOf(data);
  if (prepared.epoch === undefined) return null;
  const known = new Set(plan.keys);
  const keys = [...new Set(computed.map(tagStateKey))].filter((key) => !known.has(key));
  const more = await ensureTokens(cache, keys, ttl);
  // Read after the tokens: an invalidation deletes the epoch before its tags (see above).
  if (more === undefined || !(await epochHolds(cache, prepared.epoch))) return null;
  const tags = [...new Set([...plan.tags, ...computed])];
  const guards = [...prepared.guards, ...more];
  // The tokens of `more` were read while the epoch held (it was read before them and
  // still holds after): it vouches for them, not for the fixed ones read before it.
  return more.length === 0
    ? { tags, guards }
    : { tags, guards, epoch: [prepared.epoch, prepared.guards.length] };
}
