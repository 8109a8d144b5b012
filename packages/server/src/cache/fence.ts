/**
 * The fence of a namespace: how invalidations that name keys — a path target
 * (`'post.list'`), an input target (`{ path, input }`, public or in one scope),
 * `clear({ namespace })` — keep a computation already running from storing what it
 * read before them.
 *
 * The race: a call misses and its resolver reads the old data; the data changes and
 * an invalidation deletes the entry's key (nothing there yet) or clears the
 * namespace; then the computation stores the old result, which stays until its TTL.
 * A tag has its token for that (`tags.ts`); a key does not, so a late store simply
 * writes it again.
 *
 * The fence is a token per namespace (`%N:<namespace>`, see the key module), kept as
 * an ordinary entry like a tag's token (created when missing, for at least a day):
 * - on a miss, the computation reads it before `compute` runs (issued with the
 *   re-read of the entry, so it costs no round trip of its own);
 * - after storing, it reads it again; when it changed, is missing, or cannot be
 *   read, it deletes the entry it just stored and the call reports its result as
 *   not stored;
 * - an invalidation deletes the namespace's fence first, and its keys (or the
 *   namespace) only once that delete is done ({@link dropFenceThen}).
 *
 * Why store-then-recheck closes the window: say the computation's store is done at
 * `s` and its re-read runs at `r > s`, and the invalidation's fence delete is done
 * at `d` and its key deletes start at `k > d`. If the re-read runs after `d`, it
 * finds the fence gone (or a newer token) and the computation deletes its entry.
 * Otherwise `s < r < d < k`: the store was done before the invalidation started
 * deleting keys, and the key delete (or the namespace's scan, which finds every key
 * present from its start to its end) removes it. Checking before storing would
 * leave the gap between the check and the store, in which a whole invalidation fits.
 * The argument needs only each side's steps to finish before its next one starts,
 * not one server: it holds on a Cluster, where the fence and the entry live in
 * different slots. A computation whose first read already saw the invalidation's
 * effect (no fence, so it creates one) started after the data changed, and keeps
 * what it stores.
 *
 * What is left: between the store and its removal (one round trip), a concurrent
 * read may be served the old entry, as it could have been an instant before the
 * invalidation. An invalidation of one input also keeps every computation of the
 * namespace running at that moment from storing: those calls answer and the next
 * ones compute again.
 *
 * A tier (`TieredBackend`): the fence is read and written in the store behind it
 * (`storeBehind`), never in this instance's in-process tier, which hears of an
 * invalidation made on another instance only once the bus delivers it. A stale copy
 * read after storing would let the entry pass; read before computing (or when
 * creating the fence), it would make every miss of the namespace fail its re-check
 * until the bus caught up. Neither read costs a round trip a plain Redis backend
 * does not pay: a miss reads the entry from Redis too.
 *
 * Cost: nothing on a hit. A miss reads the fence twice (the first read shares the
 * entry's re-read round trip, the second follows the store); the first miss after
 * an invalidation writes a new fence.
 */
import type { MaybePromise } from '../backends/types.js';
import type { Cache } from './cache.js';
import { coreOf, storeBehind } from './cache-internals.js';
import { fenceStateKey } from './key.js';
import { ensureTokens, readToken } from './tags.js';

/**
 * Starts reading the fence `key` (a state key made by `fenceStateKey`) from the
 * store behind any tier: issue it with the computation's other first reads, and
 * hand it to {@link fenceBefore}.
 */
export function readFence(cache: Cache, key: string): MaybePromise<string | undefined> {
  return readToken(cache, key, storeBehind(coreOf(cache).backend));
}

/**
 * The fence's token before a computation, from `read` ({@link readFence}), created
 * when missing (it lives as long as a
 * tag's token for an entry of `ttl`); `undefined` when it could not be read or
 * written (reported): the result must then not be stored.
 */
export async function fenceBefore(
  cache: Cache,
  key: string,
  read: MaybePromise<string | undefined>,
  ttl: number | undefined,
): Promise<string | undefined> {
  const guards = await ensureTokens(
    cache,
    [key],
    ttl,
    new Map([[key, read]]),
    storeBehind(coreOf(cache).backend),
  );
  return guards?.[0]?.[1];
}

/**
 * After a store: whether the fence still holds `token`, read from the store behind
 * any tier (see the module header). A failed read (reported) does not hold.
 */
export async function fenceHolds(cache: Cache, key: string, token: string): Promise<boolean> {
  return (await readFence(cache, key)) === token;
}

/**
 * Deletes the entry a fenced computation just stored. A failure is reported: the
 * entry then stays until its expiry, which is all that can be done.
 */
export async function dropStored(cache: Cache, key: string): Promise<void> {
  const core = coreOf(cache);
  const full = core.head + key;
  try {
    await core.backend.delete(full);
  } catch (error) {
    core.report('delete', full, error);
  }
}

/**
 * Deletes the fence of `namespace`, then runs `drop` (deleting the namespace's
 * entries, or some of them), whether or not the fence could be deleted: the caller
 * asked for entries to be gone. Rejects with the fence's failure (reported) or
 * `drop`'s.
 */
export async function dropFenceThen(
  cache: Cache,
  namespace: string,
  drop: () => Promise<void>,
): Promise<void> {
  const core = coreOf(cache);
  const full = core.head + fenceStateKey(namespace);
  let failed: { error: unknown } | undefined;
  try {
    await core.backend.delete(full);
  } catch (error) {
    core.report('delete', full, error);
    failed = { error };
  }
  await drop();
  if (failed !== undefined) throw failed.error;
}
