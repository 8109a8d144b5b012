import type { AnyTRPCRouter } from '@trpc/server';
import type { Cache } from '../cache/cache.js';
import { coreOf, isCache } from '../cache/cache-internals.js';
import { dropFenceThen } from '../cache/fence.js';
import {
  namespacePart,
  rawInputKey,
  scopeSegment,
  stableKey,
  tagStateKey,
  userKeySegment,
} from '../cache/key.js';
import { CacheManager } from '../cache/manager.js';
import { invalidateStates } from '../cache/tags.js';
import { InvalidOptionError, UnknownProcedureError } from '../errors.js';
import { assertKnownOptions } from './memorize-options.js';
import { type MemorizeTag, memorizeTagOf, proceduresOf } from './procedure-tags.js';

/**
 * What to invalidate: a procedure path (every cached result of it), one input of
 * a procedure (exactly the entry a call with that input reads), or a tag (every
 * entry stored with it by `memorize({ tags })`, whatever its procedure).
 *
 * @example
 * ```ts
 * const targets: InvalidationTarget[] = [
 *   'post.list',                                 // the whole procedure
 *   { path: 'post.byId', input: { id: '1' } },   // one input
 *   { tag: 'author:7' },                         // every entry tagged so
 * ];
 * await invalidate(targets);
 * ```
 */
export type InvalidationTarget = string | InputTarget | TagTarget;

/**
 * One input of a procedure: exactly the entry a call of `path` with `input` reads
 * (same key building as `memorize`: object key order does not matter).
 *
 * On a scoped procedure (`memorize({ scope })`) it drops that input in **one
 * scope**: `scope` when given, else the one the procedure's `scope` function
 * returns for the invalidating context (the mutation's `ctx` in `invalidates`,
 * `invalidate`'s `ctx` option), which takes the `router` option to find. When no
 * scope can be told (the function returns no string, or throws), the whole
 * procedure is dropped instead. A scoped hit so reads its entry only, like a
 * public hit; for data shared across scopes, tag the entries and invalidate the tag.
 *
 * @example
 * ```ts
 * const post: InputTarget = { path: 'post.byId', input: { id: '1' } };
 * // user 7's entry of a scoped procedure, from a webhook (no caller context)
 * const note: InputTarget = { path: 'me.note', input: { id: 'n1' }, scope: '7' };
 * await invalidate([post, note], { router: (): AnyTRPCRouter => appRouter });
 * ```
 */
export interface InputTarget {
  /** The procedure path, e.g. `'post.byId'`. */
  readonly path: string;
  /** The input as a client sends it; omitted for a procedure without input. */
  readonly input?: unknown;
  /**
   * On a scoped procedure, the scope whose entry to drop: what the procedure's
   * `scope(ctx)` returns for that caller (e.g. the user id). Default: the scope of
   * the invalidating context. Ignored on a public procedure. Never sent to browsers.
   */
  readonly scope?: string;
}

/**
 * Every entry stored with this tag by `memorize({ tags })` or `memorizeFn({ tags })`.
 *
 * @example
 * ```ts
 * const target: TagTarget = { tag: 'post:1' };
 * ```
 */
export interface TagTarget {
  /** The tag, e.g. `'post:1'`: any non-empty string. */
  readonly tag: string;
}

/**
 * Options of {@link invalidate}.
 *
 * @example
 * ```ts
 * await invalidate([{ tag: 'author:7' }], { router: (): AnyTRPCRouter => appRouter });
 * ```
 */
export interface InvalidateOptions {
  /**
   * The cache to invalidate in. Default: each memorized procedure's own cache (with
   * `router`), else the global `CacheManager`.
   */
  cache?: Cache;
  /**
   * The app router. With it, a target reaches the namespace, cache, `key` and
   * `scope` functions each memorized procedure actually uses, an input target also
   * drops the entry keyed by the input as the procedure's `.input()` parses it, and
   * a tag is invalidated in every cache the router's memorized procedures use. A
   * path that names no procedure is then an error. Default: none — a path is its
   * namespace, in the global (or given) cache, of a public procedure (an input
   * target reaches a scoped entry only through its `scope`).
   */
  router?: () => AnyTRPCRouter;
  /**
   * The context handed to a procedure's `key` and `scope` functions for an input
   * target (the scope then drops that caller's entry). Default: `undefined`.
   */
  ctx?: unknown;
}

/** A target after validation: what the client is told, and what the server drops. */
export type NormalizedTarget =
  | { readonly kind: 'path'; readonly path: string }
  | {
      readonly kind: 'input';
      readonly path: string;
      readonly input: unknown;
      /** The target's own scope; absent: the invalidating context's. */
      readonly scope?: string;
    }
  | { readonly kind: 'tag'; readonly tag: string };

const ALLOWED =
  "an array of targets: procedure paths such as 'post.list', { path: 'post.byId', input: { id: '1' } } (with scope: '<scope id>' for one scope of a scoped procedure) or { tag: 'post:1' }";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function normalize(target: unknown): NormalizedTarget | undefined {
  if (typeof target === 'string') return target.length > 0 ? { kind: 'path', path: target } : undefined;
  if (!isPlainObject(target)) return undefined;
  const keys = Object.keys(target);
  if ('tag' in target) {
    const { tag } = target;
    return keys.length === 1 && typeof tag === 'string' && tag.length > 0 ? { kind: 'tag', tag } : undefined;
  }
  const { path } = target;
  if (typeof path !== 'string' || path.length === 0) return undefined;
  if (!keys.every((key) => key === 'path' || key === 'input' || key === 'scope')) return undefined;
  if (!('scope' in target)) return { kind: 'input', path, input: target.input };
  const { scope } = target;
  // Present means a scope id: an undefined one must not fall back to the caller's scope.
  return typeof scope === 'string' ? { kind: 'input', path, input: target.input, scope } : undefined;
}

/**
 * The targets of `value`, deduplicated, or an `InvalidOptionError` naming `where`
 * and the first bad target.
 *
 * @internal
 */
export function normalizeTargets(where: string, option: string, value: unknown): NormalizedTarget[] {
  if (!Array.isArray(value)) throw new InvalidOptionError(where, option, value, ALLOWED);
  const seen = new Set<string>();
  const out: NormalizedTarget[] = [];
  for (const item of value as unknown[]) {
    const target = normalize(item);
    if (target === undefined) throw new InvalidOptionError(where, option, item, `one of ${ALLOWED}`);
    const id = targetId(target);
    if (id !== undefined && seen.has(id)) continue;
    if (id !== undefined) seen.add(id);
    out.push(target);
  }
  return out;
}

/** `targets` without repeats (by what they drop). @internal */
export function uniqueTargets(targets: readonly NormalizedTarget[]): NormalizedTarget[] {
  const seen = new Set<string>();
  return targets.filter((target) => {
    const id = targetId(target);
    if (id === undefined) return true;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** A string equal for equal targets; `undefined` for an input that cannot be keyed (kept as is). */
function targetId(target: NormalizedTarget): string | undefined {
  if (target.kind === 'path') return `p${target.path}`;
  if (target.kind === 'tag') return `t${target.tag}`;
  const scope = target.scope === undefined ? '' : `~${JSON.stringify(target.scope)}`;
  try {
    return `i${JSON.stringify(target.path)}${scope}${stableKey(target.input)}`;
  } catch {
    return undefined;
  }
}

/** The procedure paths among `targets` (what clients predating targets understand). @internal */
export function pathsOf(targets: readonly NormalizedTarget[]): string[] {
  return targets.flatMap((target) => (target.kind === 'path' ? [target.path] : []));
}

interface Resolved {
  cache: Cache | undefined;
  namespace: string;
  tag: MemorizeTag | undefined;
  procedure: unknown;
}

/**
 * Where a path's entries are: its namespace and cache, as the router's memorize
 * says, else the namespace of the same name in the given or global cache.
 *
 * @internal
 */
export function resolvePath(
  where: string,
  path: string,
  router: (() => AnyTRPCRouter) | undefined,
  givenCache: Cache | undefined,
  strict: boolean,
): Resolved {
  if (router === undefined)
    return { cache: givenCache, namespace: path, tag: undefined, procedure: undefined };
  const procedures = proceduresOf(router());
  const procedure = procedures[path];
  if (procedure === undefined && strict) {
    const known = Object.keys(procedures).slice(0, 5);
    throw new UnknownProcedureError(
      `${where}: "${path}" is not a procedure of the router given as "router"; expected one of its paths, such as ${known.map((p) => `'${p}'`).join(', ')}`,
    );
  }
  const tag = memorizeTagOf(procedure);
  return {
    cache: givenCache ?? (tag?.cache as Cache | undefined),
    namespace: tag?.namespace ?? path,
    tag,
    procedure,
  };
}

function globalCache(): Cache | undefined {
  return CacheManager.initialized ? CacheManager.instance : undefined;
}

type Parse = (value: unknown) => unknown;

/** tRPC's way of finding the function a `.input()` validator is called through. */
function parseFnOf(parser: unknown): Parse | undefined {
  const p = parser as Record<string, unknown> & ((value: unknown) => unknown);
  if (typeof p === 'function' && typeof p.assert === 'function') return (p.assert as Parse).bind(p);
  const standard = (p as { '~standard'?: { validate?: unknown } } | null)?.['~standard'];
  if (typeof p === 'function' && standard === undefined) return p;
  if (p === null || (typeof p !== 'object' && typeof p !== 'function')) return undefined;
  for (const name of ['parseAsync', 'parse', 'validateSync', 'create']) {
    if (typeof p[name] === 'function') return (p[name] as Parse).bind(p);
  }
  if (typeof standard?.validate === 'function') {
    const validate = standard.validate as (value: unknown) => unknown;
    return async (value) => {
      const result = (await validate(value)) as { value?: unknown; issues?: unknown };
      if (result.issues) throw new Error('invalid input');
      return result.value;
    };
  }
  return undefined;
}

/**
 * The input as the procedure's `.input()` validators accept it (merged like tRPC
 * merges several), or `undefined` when it has none or the input does not pass.
 */
async function parsedInput(procedure: unknown, input: unknown): Promise<{ value: unknown } | undefined> {
  const inputs = (procedure as { _def?: { inputs?: unknown } } | undefined)?._def?.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) return undefined;
  let merged: unknown;
  try {
    for (const parser of inputs) {
      const parse = parseFnOf(parser);
      if (parse === undefined) return undefined;
      const parsed = await parse(input);
      merged = isPlainObject(merged) && isPlainObject(parsed) ? { ...merged, ...parsed } : parsed;
    }
  } catch {
    return undefined;
  }
  return { value: merged };
}

/** What one invalidation does to one cache. */
interface CachePlan {
  namespaces: Set<string>;
  /** Entry keys to delete, by namespace (whose fence goes first). */
  keys: Map<string, Set<string>>;
  tags: Set<string>;
}

function planOf(plans: Map<Cache, CachePlan>, cache: Cache): CachePlan {
  let plan = plans.get(cache);
  if (plan === undefined) {
    plan = { namespaces: new Set(), keys: new Map(), tags: new Set() };
    plans.set(cache, plan);
  }
  return plan;
}

/**
 * The key heads (namespace, then scope) an input target's entry may be under: of the
 * target's scope, else the one the procedure's `scope` function gives the
 * invalidating context; `'namespace'` for a scoped procedure whose scope cannot be
 * told, like a `key` function that cannot answer (see {@link callPartsOf}).
 */
function headsOf(resolved: Resolved, scope: string | undefined, ctx: unknown): string[] | 'namespace' {
  const head = `${namespacePart(resolved.namespace)}:`;
  const tag = resolved.tag;
  // Unknown to memorize (no router): a public procedure; a scope given names its entry too.
  if (tag === undefined) return scope === undefined ? [head] : [head, head + scopeSegment(scope)];
  if (tag.visibility === 'public') return [head];
  if (scope !== undefined) return [head + scopeSegment(scope)];
  const scopeFn = tag.scope as ((ctx: unknown) => unknown) | undefined;
  try {
    const id = scopeFn?.(ctx);
    // No string for this context: whose entry it is cannot be told, so drop every scope's.
    return typeof id === 'string' ? [head + scopeSegment(id)] : 'namespace';
  } catch {
    return 'namespace';
  }
}

/** The call parts a call with `input` may be stored under. */
async function callPartsOf(
  resolved: Resolved,
  path: string,
  input: unknown,
  ctx: unknown,
): Promise<string[] | 'namespace'> {
  const keyFn = resolved.tag?.key as
    | ((opts: { path: string; input: unknown; ctx: unknown }) => unknown)
    | undefined;
  if (keyFn !== undefined) {
    try {
      const given = keyFn({ path, input, ctx });
      // A key function that cannot answer for this context: drop the whole procedure.
      return typeof given === 'string' ? [userKeySegment(given)] : 'namespace';
    } catch {
      return 'namespace';
    }
  }
  const parts = new Set<string>();
  const add = (make: () => string) => {
    try {
      parts.add(make());
    } catch {
      // An input without a key was never cached under it.
    }
  };
  // Keyed by the validated input (memorize after `.input()`), by the raw input
  // (before it), and by the input as given when it is already in validated form.
  add(() => stableKey(input));
  add(() => rawInputKey(input));
  const parsed = await parsedInput(resolved.procedure, input);
  if (parsed !== undefined) add(() => stableKey(parsed.value));
  return [...parts];
}

/**
 * Drops what `targets` name: namespaces for paths, the keys of input targets (in
 * one scope of a scoped procedure), and the tag states of tags.
 * Every cache affected is invalidated; a backend failure is reported through the
 * cache's `onError` and makes the returned promise reject (after every other
 * drop was attempted).
 *
 * @internal
 */
export async function applyTargets(
  where: string,
  targets: readonly NormalizedTarget[],
  options: {
    router: (() => AnyTRPCRouter) | undefined;
    cache: Cache | undefined;
    ctx: unknown;
    strict: boolean;
  },
): Promise<void> {
  const { router, cache: givenCache, ctx, strict } = options;
  const plans = new Map<Cache, CachePlan>();
  let tagCaches: Cache[] | undefined;
  for (const target of targets) {
    if (target.kind === 'tag') {
      tagCaches ??= cachesOf(router, givenCache);
      for (const cache of tagCaches) planOf(plans, cache).tags.add(target.tag);
      continue;
    }
    const resolved = resolvePath(where, target.path, router, givenCache, strict);
    const cache = resolved.cache ?? globalCache();
    // Nothing was ever cached in a cache that does not exist.
    if (cache === undefined) continue;
    const plan = planOf(plans, cache);
    if (target.kind === 'path') {
      plan.namespaces.add(resolved.namespace);
      continue;
    }
    const heads = headsOf(resolved, target.scope, ctx);
    const parts = heads === 'namespace' ? heads : await callPartsOf(resolved, target.path, target.input, ctx);
    if (heads === 'namespace' || parts === 'namespace') {
      plan.namespaces.add(resolved.namespace);
      continue;
    }
    const keys = plan.keys.get(resolved.namespace) ?? new Set<string>();
    plan.keys.set(resolved.namespace, keys);
    for (const head of heads) for (const part of parts) keys.add(head + part);
  }
  const work: Promise<void>[] = [];
  for (const [cache, plan] of plans) {
    const core = coreOf(cache);
    const drop = async (key: string) => {
      try {
        await core.backend.delete(core.head + key);
      } catch (error) {
        core.report('delete', core.head + key, error);
        throw error;
      }
    };
    // Each namespace's fence goes first, once, so a computation of it in flight
    // cannot keep what it read before (see fence.ts); `clear` does that itself.
    for (const namespace of plan.namespaces) work.push(cache.clear({ namespace }));
    for (const [namespace, keys] of plan.keys) {
      // Cleared whole above: these keys with it.
      if (plan.namespaces.has(namespace)) continue;
      work.push(
        dropFenceThen(cache, namespace, async () => {
          const dropped = await Promise.allSettled([...keys].map(drop));
          const failed = dropped.find((result) => result.status === 'rejected');
          if (failed !== undefined) throw failed.reason;
        }),
      );
    }
    const tags = [...plan.tags].map(tagStateKey);
    if (tags.length > 0) work.push(invalidateStates(cache, tags, true));
  }
  const results = await Promise.allSettled(work);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** The caches a tag may have entries in: the given one, else the router's and the global one. */
function cachesOf(router: (() => AnyTRPCRouter) | undefined, givenCache: Cache | undefined): Cache[] {
  if (givenCache !== undefined) return [givenCache];
  const caches = new Set<Cache>();
  const global = globalCache();
  if (global !== undefined) caches.add(global);
  if (router !== undefined) {
    for (const procedure of Object.values(proceduresOf(router()))) {
      const cache = memorizeTagOf(procedure)?.cache as Cache | undefined;
      if (cache !== undefined) caches.add(cache);
    }
  }
  return [...caches];
}

/**
 * Invalidates cached results from plain server code (a webhook, a queue consumer,
 * a script): the same targets as `invalidates(...)` takes after a mutation.
 *
 * - `'post.list'`: every cached result of that procedure;
 * - `{ path: 'post.byId', input: { id: '1' } }`: exactly the entry a call with that
 *   input reads. On a scoped procedure, one caller's entry: of the target's `scope`,
 *   else of the scope the procedure's `scope` function gives `ctx` (found through
 *   `router`; the whole procedure when it gives no string). Without `router` nor
 *   `scope`, a path stands for a public procedure: scoped entries stay;
 * - `{ tag: 'post:1' }`: every entry stored with that tag (`memorize({ tags })`).
 *
 * Resolves once every target is dropped. A call of a dropped path or input that is
 * still computing then answers with what it read before, but does not keep it: the
 * next call computes again (tags likewise). Rejects when a target is malformed
 * (`InvalidOptionError`), names no procedure of `router` (`UnknownProcedureError`),
 * or when the backend fails (after reporting it through the cache's `onError` and
 * attempting every other target): the caller asked for entries to be gone.
 *
 * Browsers hear of it only through mutations: this one is for the server's cache.
 *
 * @example
 * ```ts
 * app.post('/webhooks/cms', async (req, res) => {
 *   const { postId, authorId } = req.body;
 *   await invalidate([{ path: 'post.byId', input: { id: postId } }, { tag: `author:${authorId}` }]);
 *   res.sendStatus(204);
 * });
 *
 * // One user's entry of a scoped procedure (memorize({ scope: (ctx) => ctx.user.id })):
 * app.post('/webhooks/notes', async (req, res) => {
 *   const { noteId, userId } = req.body;
 *   await invalidate([{ path: 'me.note', input: { id: noteId }, scope: userId }], {
 *     router: (): AnyTRPCRouter => appRouter,
 *   });
 *   res.sendStatus(204);
 * });
 * ```
 */
export async function invalidate(
  targets: readonly InvalidationTarget[],
  options: InvalidateOptions = {},
): Promise<void> {
  const where = 'invalidate()';
  const normalized = normalizeTargets(where, 'targets', targets);
  assertKnownOptions(where, options, ['cache', 'router', 'ctx']);
  const { cache, router, ctx } = options;
  assertInvalidationCache(where, cache);
  if (router !== undefined && typeof router !== 'function') {
    throw new InvalidOptionError(
      where,
      'router',
      router,
      'a function returning the app router, e.g. () => appRouter',
    );
  }
  await applyTargets(where, normalized, { cache, router, ctx, strict: true });
}

/** Throws unless `cache` is omitted or a cache made by `createCache()` (of any loaded copy). @internal */
export function assertInvalidationCache(where: string, cache: unknown): void {
  if (cache === undefined) return;
  if (!isCache(cache)) {
    throw new InvalidOptionError(where, 'cache', cache, 'a cache made by createCache() (or omitted)');
  }
}
