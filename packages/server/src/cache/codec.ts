import { CodecError } from '../errors.js';

/**
 * The one codec both backends share. An entry is stored as a single string:
 *
 *   `<expiresAt>|<kind><payload>`
 *
 * `expiresAt` is the absolute expiry in epoch milliseconds (empty for none), so a
 * hit can report its remaining TTL without a second round trip. `kind` is `J` when
 * the value is plain JSON (decoded with `JSON.parse` alone: the hit path of most
 * tRPC results) and `T` when types had to be recorded: the payload is then
 * `[json, annotations]`, each annotation `[path, tag]` marking one typed node
 * (`D` Date, `M` Map, `S` Set, `B` BigInt, `U` undefined, `N` NaN/±Infinity/-0,
 * `R` RegExp, `L` URL). Decoding parses once and revives only the annotated nodes
 * in place; superjson does the same but deep-copies the parsed tree first, and
 * devalue revives every node (see the codec figures of the cache-backends bench).
 *
 * What can be cached, and why the rest is refused rather than stored lossily:
 * - plain objects, arrays, strings, booleans, `null`, numbers (also `NaN`,
 *   `±Infinity`, `-0`), `undefined` (as a value or an object field), `BigInt`,
 *   `Date`, `Map`, `Set`, `RegExp`, `URL` — exactly what comes back.
 * - functions, symbols, symbol-keyed properties, circular structures and instances
 *   of any other class (including subclasses of the types above and `Error`) are
 *   refused with a {@link CodecError}: JSON and superjson would drop them or hand
 *   back a plain object without the class, and a cache hit must not answer with a
 *   different type than the miss that filled it. `memorize` then returns the value
 *   uncached and reports the error.
 *
 * As with JSON, shared (non-circular) references inside a plain-JSON value come
 * back as equal, separate objects, holes of sparse arrays come back as `undefined`, and
 * a null-prototype object comes back as an ordinary one.
 */
export interface DecodedEntry {
  value: unknown;
  /** Absolute expiry in epoch milliseconds, or `undefined` for no expiry. */
  expiresAt: number | undefined;
  /** The entry's tags and guards, when it was stored with any (see {@link EntryGuards}). */
  guarded?: EntryGuards;
}

/**
 * What a guarded entry carries besides its value: the tags it was stored with (to
 * report to the client) and, per state key it depends on (`%T:<tag>`, see
 * the key module), the token that key held when the computation started. The entry
 * is valid only while every one of those keys still holds that token. An entry with
 * tags computed from its result also carries the cache epoch its computation saw,
 * which vouches for those tags' guards while it holds (see `tags.ts`). Written in
 * the header as `G<json [tags, [[key, token], …], [epoch, from]?]>` and a newline
 * (which JSON text never contains) before the value's kind, so unguarded entries
 * are unchanged.
 */
export interface EntryGuards {
  readonly tags: readonly string[];
  readonly guards: readonly (readonly [key: string, token: string])[];
  /**
   * The epoch (`%E`) read before the computation, and the index of the first guard
   * whose token was read after it (the tags computed from the result): while `%E`
   * still holds that epoch, the guards from `from` on hold too.
   */
  readonly epoch?: readonly [token: string, from: number];
}

const objectProto = Object.prototype;
const arrayProto = Array.prototype;
const TYPED_CLASSES: ReadonlySet<object> = new Set<object>([
  Date.prototype,
  Map.prototype,
  Set.prototype,
  RegExp.prototype,
  URL.prototype,
]);

function refuse(path: string, what: string): never {
  throw new CodecError(
    `cannot cache ${what} at ${path || 'the top level'}: only JSON data, undefined, BigInt, Date, Map, Set, RegExp and URL round-trip through the cache`,
  );
}

function className(value: object): string {
  const ctor = (value as { constructor?: unknown }).constructor;
  return typeof ctor === 'function' && ctor.name ? ctor.name : 'an unknown class';
}

/**
 * Walks `value` once: returns `true` when it needs annotations (a typed value
 * somewhere), `false` when `JSON.stringify` round-trips it exactly, and throws
 * for what cannot round-trip. `ancestors` detects cycles (a plain depth limit
 * would explore a wide cycle exponentially before giving up).
 */
function needsTypes(value: unknown, ancestors: Set<object>, path: string): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return false;
    case 'number':
      return !Number.isFinite(value) || Object.is(value, -0);
    case 'undefined':
    case 'bigint':
      return true;
    case 'function':
      return refuse(path, `a function (${(value as () => unknown).name || 'anonymous'})`);
    case 'symbol':
      return refuse(path, 'a symbol');
  }
  if (value === null) return false;
  const object = value as object;
  if (ancestors.has(object)) refuse(path, 'a circular reference');
  const proto = Object.getPrototypeOf(object) as object | null;
  let typed = false;
  ancestors.add(object);
  if (proto === arrayProto) {
    const array = object as unknown[];
    for (let i = 0; i < array.length; i++) {
      if (needsTypes(array[i], ancestors, `${path}[${i}]`)) typed = true;
    }
  } else if (proto === objectProto || proto === null) {
    if (Object.getOwnPropertySymbols(object).length > 0) refuse(path, 'a symbol-keyed property');
    const record = object as Record<string, unknown>;
    for (const key in record) {
      if (needsTypes(record[key], ancestors, path ? `${path}.${key}` : key)) typed = true;
    }
  } else if (proto !== null && TYPED_CLASSES.has(proto)) {
    typed = true;
    if (object instanceof Map) {
      for (const [k, v] of object) {
        needsTypes(k, ancestors, `${path}<key>`);
        needsTypes(v, ancestors, `${path}<value>`);
      }
    } else if (object instanceof Set) {
      for (const v of object) needsTypes(v, ancestors, `${path}<item>`);
    }
  } else {
    refuse(path, `an instance of ${className(object)} (it would come back as a plain object)`);
  }
  ancestors.delete(object);
  return typed;
}

type PathKey = string | number;
/** One typed leaf: where it is in the JSON tree and what to revive it as. */
type Annotation = [path: PathKey[], tag: string];

/**
 * Copies a typed value into JSON-able data, recording an annotation per typed
 * node. Annotations are pushed after the node's children (post-order), so on
 * decode a Map's entries are revived before the Map is built from them.
 */
function toJsonTree(value: unknown, path: PathKey[], out: Annotation[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      out.push([path.slice(), 'N']);
      return Object.is(value, -0) ? '-0' : String(value);
    case 'undefined':
      out.push([path.slice(), 'U']);
      return null;
    case 'bigint':
      out.push([path.slice(), 'B']);
      return value.toString();
  }
  if (value === null) return null;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      copy[i] = toJsonTree(value[i], path, out);
      path.pop();
    }
    return copy;
  }
  if (value instanceof Date) {
    out.push([path.slice(), 'D']);
    const time = value.getTime();
    return Number.isNaN(time) ? null : time;
  }
  if (value instanceof Map || value instanceof Set) {
    const isMap = value instanceof Map;
    const entries: unknown[] = [];
    let i = 0;
    for (const item of value as Iterable<unknown>) {
      path.push(i++);
      entries.push(toJsonTree(item, path, out));
      path.pop();
    }
    out.push([path.slice(), isMap ? 'M' : 'S']);
    return entries;
  }
  if (value instanceof RegExp) {
    out.push([path.slice(), 'R']);
    return [value.source, value.flags];
  }
  if (value instanceof URL) {
    out.push([path.slice(), 'L']);
    return value.href;
  }
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key in record) {
    path.push(key);
    const json = toJsonTree(record[key], path, out);
    path.pop();
    // An own "__proto__" key (JSON.parse makes those) must stay data, not become the prototype.
    if (key === '__proto__')
      Object.defineProperty(copy, key, { value: json, enumerable: true, writable: true });
    else copy[key] = json;
  }
  return copy;
}

function revive(tag: unknown, json: unknown): unknown {
  switch (tag) {
    case 'D':
      if (json === null || typeof json === 'number') return new Date(json ?? Number.NaN);
      break;
    case 'U':
      return undefined;
    case 'B':
      if (typeof json === 'string') return BigInt(json);
      break;
    case 'N':
      if (typeof json === 'string') return Number(json);
      break;
    case 'M':
      if (Array.isArray(json)) return new Map(json as [unknown, unknown][]);
      break;
    case 'S':
      if (Array.isArray(json)) return new Set(json);
      break;
    case 'R':
      if (Array.isArray(json)) return new RegExp(json[0] as string, json[1] as string);
      break;
    case 'L':
      if (typeof json === 'string') return new URL(json);
      break;
  }
  throw new Error(`bad annotation ${JSON.stringify(tag)}`);
}

/** Applies the annotations of a `T` entry in place (the parsed tree is ours alone). */
function reviveTree(doc: unknown): unknown {
  if (!Array.isArray(doc) || doc.length !== 2 || !Array.isArray(doc[1])) throw new Error('bad typed entry');
  let root: unknown = doc[0];
  for (const annotation of doc[1] as unknown[]) {
    const [path, tag] = annotation as [unknown, unknown];
    if (!Array.isArray(path)) throw new Error('bad annotation path');
    if (path.length === 0) {
      root = revive(tag, root);
      continue;
    }
    let holder = root as Record<PathKey, unknown>;
    // Own properties only: a corrupt entry must not reach (and write into) a prototype.
    for (let i = 0; i < path.length - 1; i++) {
      const key = path[i] as PathKey;
      if (typeof holder !== 'object' || holder === null || !Object.hasOwn(holder, key)) {
        throw new Error('bad annotation path');
      }
      holder = holder[key] as Record<PathKey, unknown>;
    }
    const last = path[path.length - 1] as PathKey;
    if (typeof holder !== 'object' || holder === null || !Object.hasOwn(holder, last)) {
      throw new Error('bad annotation path');
    }
    holder[last] = revive(tag, holder[last]);
  }
  return root;
}

/**
 * Encodes `value` with its absolute expiry (epoch ms). Throws a
 * {@link CodecError} for a value that cannot round-trip.
 */
export function encodeEntry(value: unknown, expiresAt: number | undefined, guarded?: EntryGuards): string {
  let head = expiresAt === undefined ? '|' : `${expiresAt}|`;
  if (guarded !== undefined) {
    const { tags, guards, epoch } = guarded;
    head += `G${JSON.stringify(epoch === undefined ? [tags, guards] : [tags, guards, epoch])}\n`;
  }
  if (!needsTypes(value, new Set(), '')) return `${head}J${JSON.stringify(value)}`;
  const annotations: Annotation[] = [];
  const json = toJsonTree(value, [], annotations);
  return `${head}T${JSON.stringify([json, annotations])}`;
}

/** Decodes an entry written by {@link encodeEntry}; throws a {@link CodecError} when it is not one. */
export function decodeEntry(raw: string): DecodedEntry {
  const bar = raw.indexOf('|');
  if (bar < 0) throw new CodecError('corrupt cache entry: no header');
  let expiresAt: number | undefined;
  if (bar > 0) {
    expiresAt = Number(raw.slice(0, bar));
    if (!Number.isFinite(expiresAt)) throw new CodecError('corrupt cache entry: bad expiry');
  }
  let start = bar + 1;
  let guarded: EntryGuards | undefined;
  if (raw.charCodeAt(start) === 71 /* G */) {
    const end = raw.indexOf('\n', start);
    if (end < 0) throw new CodecError('corrupt cache entry: unterminated guards');
    guarded = parseGuards(raw.slice(start + 1, end));
    start = end + 1;
  }
  const kind = raw.charCodeAt(start);
  try {
    if (kind === 74 /* J */)
      return withGuards({ value: JSON.parse(raw.slice(start + 1)), expiresAt }, guarded);
    if (kind === 84 /* T */)
      return withGuards({ value: reviveTree(JSON.parse(raw.slice(start + 1))), expiresAt }, guarded);
  } catch (error) {
    throw new CodecError(`corrupt cache entry: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  throw new CodecError('corrupt cache entry: unknown kind');
}

function withGuards(entry: DecodedEntry, guarded: EntryGuards | undefined): DecodedEntry {
  if (guarded !== undefined) entry.guarded = guarded;
  return entry;
}

const isString = (value: unknown): value is string => typeof value === 'string';

/** The `[tags, guards, epoch?]` of a guarded entry's header, checked for shape. */
function parseGuards(json: string): EntryGuards {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (error) {
    throw new CodecError('corrupt cache entry: bad guards', { cause: error });
  }
  if (Array.isArray(doc) && (doc.length === 2 || doc.length === 3)) {
    const [tags, guards, epoch] = doc as [unknown, unknown, unknown];
    if (
      Array.isArray(tags) &&
      tags.every(isString) &&
      Array.isArray(guards) &&
      guards.every((guard) => Array.isArray(guard) && guard.length === 2 && guard.every(isString))
    ) {
      const parsed = { tags, guards: guards as [string, string][] };
      if (doc.length === 2) return parsed;
      if (
        Array.isArray(epoch) &&
        epoch.length === 2 &&
        isString(epoch[0]) &&
        Number.isInteger(epoch[1]) &&
        epoch[1] >= 0 &&
        epoch[1] <= guards.length
      ) {
        return { ...parsed, epoch: epoch as [string, number] };
      }
    }
  }
  throw new CodecError('corrupt cache entry: bad guards');
}
