import { keyHash } from '#key-hash';
import { UnkeyableValueError } from '../errors.js';

/**
 * The key format: the one place that turns prefixes, namespaces, scopes, key
 * function results and inputs into backend keys.
 *
 *   `<prefix>:<namespace>:[~<scope>:]<call>`     (memorize, memorizeFn)
 *   `<prefix>:<key>`                             (`get`/`set(key)`, `clear({ key })`)
 *
 * Every part maps one-to-one onto well-formed text (so onto UTF-8 bytes, which is
 * what Redis stores): `%` is written `%25`, a lone surrogate `%uD800` (never
 * replaced by U+FFFD), and in the parts a `:` ends (prefix, namespace, scope) a
 * `:` is written `%3A`. So a namespace never runs into the next one
 * (`clear({ namespace: 'post' })` cannot reach `post:comments`), nor a prefix into
 * another (`'app'` and `'app:users'` are `app:` and `app%3Ausers:`). A part made
 * of other characters reads as it is.
 *
 * The call part says what the entry was keyed by, from its first character:
 * - `=<canonical>`: the input as the procedure accepts it (after `.input()`), or
 *   `memorizeFn`'s arguments, in the canonical form of {@link canonicalForm};
 * - `^<canonical>`: the raw input (`memorize` before `.input()`);
 * - `#<sha256>`: either of these, or a key function's result, longer than
 *   {@link MAX_VERBATIM} characters: the SHA-256 of its verbatim form;
 * - anything else: a key function's result. Its first character is escaped when it
 *   is one of `~ = ^ #`, so it can meet none of the forms above nor a scope.
 *
 * A scope is `~<scope>:`, or `~#<sha256>:` past {@link MAX_VERBATIM_SCOPE}
 * characters (scopes may be tokens: keep them out of key names); a leading `#` of
 * a scope is escaped, so the two cannot meet.
 */

/** Call parts longer than this are hashed; shorter ones are used as they are (readable in Redis). */
export const MAX_VERBATIM = 96;
/** Scopes longer than this are hashed. */
export const MAX_VERBATIM_SCOPE = 64;

/**
 * The limits of key building. An input past any of them is not cached (the call
 * runs, and the cache's `onError` hook hears of it): building a key costs at most
 * about `nodes` steps and `size` characters, whatever the input's shape.
 */
export const KEY_LIMITS = {
  /**
   * Values visited: every value, object property, array item and Map/Set entry.
   * An object reached along several paths (a superjson request may share
   * references) counts at each place, since the key writes it out at each place.
   */
  nodes: 10_000,
  /** Nesting depth of objects, arrays, Maps and Sets (a cycle runs into it). */
  depth: 64,
  /** Characters of the canonical form. */
  size: 65_536,
} as const;

function unkeyable(what: string): UnkeyableValueError {
  return new UnkeyableValueError(
    'type',
    `cannot key ${what}: keys represent JSON data, undefined, BigInt, Date, Map, Set, RegExp, URL and typed arrays (give memorize a \`key\` function for anything else)`,
  );
}

function pastLimit(reason: 'nodes' | 'depth' | 'size'): UnkeyableValueError {
  const what = {
    nodes: `has more than ${KEY_LIMITS.nodes} values (shared references count at each place)`,
    depth: `is nested deeper than ${KEY_LIMITS.depth} levels (or cyclic)`,
    size: `is longer than ${KEY_LIMITS.size} characters in canonical form`,
  }[reason];
  return new UnkeyableValueError(reason, `cannot key a value that ${what}`);
}

// Key building is synchronous and not re-entrant: one budget for the walk in progress.
let nodesLeft = 0;
/** The deepest level an object was entered at, in the walk (or subtree) in progress. */
let deepest = 0;

/** What a finished object's walk found, to reuse where the same object appears again. */
interface Walked {
  form: string;
  /** Values below it, which count again at every place it appears. */
  nodes: number;
  /** Levels below it, which the depth limit counts again at every place. */
  height: number;
}
/**
 * Objects already walked in the build in progress. Started only once a walk has
 * visited {@link MEMO_AFTER} values, so small inputs (the hit path) allocate
 * nothing; past that, an object shared by many places (a superjson DAG) is walked
 * once and costs a lookup at each other place, while counting against the limits as
 * if written out there. Dropped at the end of each build.
 */
let memo: Map<object, Walked> | undefined;
const MEMO_AFTER = 256;

/** BigInts with more digits than the size limit allows, found without printing them. */
const HUGE_BIGINT = 10n ** BigInt(KEY_LIMITS.size);

/**
 * The canonical form of `value`: JSON-like, with object keys sorted (and Map and
 * Set entries), `undefined` object properties left out as JSON transport would,
 * and tags for what JSON cannot say: `undefined`, `NaN`, `-0`, `1n`, `D<epoch ms>`
 * (Date), `M[…]`, `S[…]`, `R"source"flags` (RegExp), `L"href"` (URL),
 * `Uint8Array[<hex>]` (typed arrays and `Buffer`, by their bytes). Strings are
 * JSON-escaped, lone surrogates included, so the form is well-formed text.
 *
 * Equal inputs get the same form whatever the order of their keys; different
 * inputs get different forms. Anything else throws an {@link UnkeyableValueError},
 * as does a value past {@link KEY_LIMITS}.
 *
 * @example
 * ```ts
 * canonicalForm({ b: 2, a: [1n, undefined] }); // '{"a":[1n,undefined],"b":2}'
 * ```
 */
export function canonicalForm(value: unknown): string {
  nodesLeft = KEY_LIMITS.nodes;
  deepest = 0;
  try {
    return canonical(value, 0);
  } finally {
    memo = undefined;
  }
}

function canonical(value: unknown, depth: number): string {
  if (--nodesLeft < 0) throw pastLimit('nodes');
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      // -0 is its own input: superjson sends it as such, and 1 / x tells it apart.
      return Object.is(value, -0) ? '-0' : String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'undefined';
    case 'bigint':
      if (value >= HUGE_BIGINT || value <= -HUGE_BIGINT) throw pastLimit('size');
      return `${value}n`;
    case 'object':
      if (value === null) return 'null';
      if (depth >= KEY_LIMITS.depth) throw pastLimit('depth');
      return memo === undefined ? walk(value, depth) : (reuse(value, depth) ?? walk(value, depth));
    default:
      throw unkeyable(`a ${typeof value}`);
  }
}

function walk(value: object, depth: number): string {
  const nodesBefore = nodesLeft;
  const deepestBefore = deepest;
  deepest = depth;
  const form = canonicalObject(value, depth + 1);
  const height = deepest - depth;
  if (deepestBefore > deepest) deepest = deepestBefore;
  if (memo === undefined && KEY_LIMITS.nodes - nodesLeft > MEMO_AFTER) memo = new Map();
  memo?.set(value, { form, nodes: nodesBefore - nodesLeft, height });
  return form;
}

/** The form of an object walked before, counted against the limits as if walked here. */
function reuse(value: object, depth: number): string | undefined {
  const walked = memo!.get(value);
  if (walked === undefined) return undefined;
  nodesLeft -= walked.nodes;
  if (nodesLeft < 0) throw pastLimit('nodes');
  if (depth + walked.height >= KEY_LIMITS.depth) throw pastLimit('depth');
  if (depth + walked.height > deepest) deepest = depth + walked.height;
  return walked.form;
}

function quote(text: string): string {
  if (text.length > KEY_LIMITS.size) throw pastLimit('size');
  return JSON.stringify(text);
}

/** Throws unless `value` has exactly `count` own properties (of any kind). */
function assertOwnKeys(value: object, count: number, what: string): void {
  if (Reflect.ownKeys(value).length !== count) throw unkeyable(`${what} with properties of its own`);
}

function canonicalObject(value: object, depth: number): string {
  // Exact prototypes: a subclass may hold state (private fields) the key cannot see.
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return canonicalRecord(value, depth);
  if (proto === Array.prototype) return canonicalArray(value as unknown[], depth);
  if (proto === Date.prototype) {
    assertOwnKeys(value, 0, 'a Date');
    return `D${(value as Date).getTime()}`;
  }
  if (proto === Map.prototype) {
    assertOwnKeys(value, 0, 'a Map');
    const map = value as Map<unknown, unknown>;
    if (map.size > nodesLeft) throw pastLimit('nodes');
    const entries: string[] = [];
    let size = 0;
    for (const [k, v] of map) {
      const entry = `[${canonical(k, depth)},${canonical(v, depth)}]`;
      size += entry.length + 1;
      if (size > KEY_LIMITS.size) throw pastLimit('size');
      entries.push(entry);
    }
    return `M[${entries.sort().join(',')}]`;
  }
  if (proto === Set.prototype) {
    assertOwnKeys(value, 0, 'a Set');
    const set = value as Set<unknown>;
    if (set.size > nodesLeft) throw pastLimit('nodes');
    const items: string[] = [];
    let size = 0;
    for (const item of set) {
      const form = canonical(item, depth);
      size += form.length + 1;
      if (size > KEY_LIMITS.size) throw pastLimit('size');
      items.push(form);
    }
    return `S[${items.sort().join(',')}]`;
  }
  if (proto === RegExp.prototype) {
    // Its one own property is `lastIndex`, the state `exec` and `test` start from.
    assertOwnKeys(value, 1, 'a RegExp');
    const regexp = value as RegExp;
    const { lastIndex } = regexp;
    if (typeof lastIndex !== 'number') throw unkeyable('a RegExp whose lastIndex is not a number');
    return `R${quote(regexp.source)}${regexp.flags}${lastIndex === 0 ? '' : `@${lastIndex}`}`;
  }
  if (proto === URL.prototype) {
    assertOwnKeys(value, 0, 'a URL');
    return `L${quote((value as URL).href)}`;
  }
  const binary = BINARY_KINDS.get(proto as object);
  if (binary !== undefined) return canonicalBinary(binary, value as Uint8Array);
  throw unkeyable(describeInstance(value));
}

/**
 * Typed arrays (and Node's `Buffer`, found without importing it) by their exact
 * prototype: the kind and the bytes of the view.
 */
const BINARY_KINDS = new Map<object, string>(
  [
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
    (globalThis as { Buffer?: { prototype: object; name: string } }).Buffer,
  ]
    .filter((kind) => kind !== undefined)
    .map((kind) => [kind.prototype, kind.name]),
);

function canonicalBinary(kind: string, view: Uint8Array): string {
  if (view.length > nodesLeft) throw pastLimit('nodes');
  if (view.byteLength * 2 > KEY_LIMITS.size) throw pastLimit('size');
  nodesLeft -= view.length;
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  let hex = '';
  for (let i = 0; i < bytes.length; i++) hex += (bytes[i]! < 16 ? '0' : '') + bytes[i]!.toString(16);
  return `${kind}[${hex}]`;
}

function describeInstance(value: object): string {
  if (value instanceof Error) return 'an Error (its stack and cause are not part of a key)';
  if (value instanceof String || value instanceof Number || value instanceof Boolean) {
    return 'a boxed primitive';
  }
  const ctor = (value as { constructor?: unknown }).constructor;
  const name = typeof ctor === 'function' && ctor.name ? ctor.name : 'an unknown class';
  return `an instance of ${name} (it may hold state a key cannot see)`;
}

function canonicalRecord(record: object, depth: number): string {
  const keys = Object.keys(record);
  if (keys.length > nodesLeft) throw pastLimit('nodes');
  // Symbol-keyed and non-enumerable properties are state JSON would drop.
  if (Reflect.ownKeys(record).length !== keys.length) {
    throw unkeyable('an object with symbol-keyed or non-enumerable properties');
  }
  if (keys.length > 1) keys.sort();
  let out = '{';
  for (const key of keys) {
    const item = (record as Record<string, unknown>)[key];
    if (item === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${quote(key)}:${canonical(item, depth)}`;
    if (out.length > KEY_LIMITS.size) throw pastLimit('size');
  }
  return `${out}}`;
}

function canonicalArray(array: unknown[], depth: number): string {
  const { length } = array;
  if (length > nodesLeft) throw pastLimit('nodes');
  // Own keys are the indexes plus `length`: fewer means holes, more means extra properties.
  if (Reflect.ownKeys(array).length !== length + 1)
    throw unkeyable('an array with holes or extra properties');
  let out = '[';
  for (let i = 0; i < length; i++) {
    const item = array[i];
    // A hole is not an undefined item: `i in array` tells them apart.
    if (item === undefined && !(i in array)) throw unkeyable('an array with holes');
    if (i > 0) out += ',';
    out += canonical(item, depth);
    if (out.length > KEY_LIMITS.size) throw pastLimit('size');
  }
  return `${out}]`;
}

/** The hash of long parts: SHA-256 in unpadded base64url (43 characters). */
let hashPart: (text: string) => string = keyHash;

/**
 * @internal Replaces the hash of long key parts with another SHA-256 in base64url
 * over the same UTF-8 bytes (the benchmarks compare `node:crypto` on the hit path
 * this way); returns the previous one. Not exported from the package.
 */
export function setKeyHash(hash: (text: string) => string): (text: string) => string {
  const previous = hashPart;
  hashPart = hash;
  return previous;
}

/** A verbatim call part as it is, or its hash when long. */
function compact(verbatim: string): string {
  return verbatim.length <= MAX_VERBATIM ? verbatim : `#${hashPart(verbatim)}`;
}

/**
 * The call part of a value keyed by what the procedure accepts (the validated
 * input, `memorizeFn`'s arguments): `=<canonical form>`, or `#<sha256>` when long.
 * Throws an {@link UnkeyableValueError} for a value that cannot be keyed.
 *
 * @example
 * ```ts
 * stableKey({ b: 2, a: 1 }) === stableKey({ a: 1, b: 2 }); // true: '={"a":1,"b":2}'
 * stableKey(undefined); // '=undefined'
 * ```
 */
export function stableKey(value: unknown): string {
  // Every call of a procedure without input: skip the walk.
  if (value === undefined) return '=undefined';
  return compact(`=${canonicalForm(value)}`);
}

/** Like {@link stableKey} for a raw input (`memorize` before `.input()`): `^<canonical form>`. */
export function rawInputKey(value: unknown): string {
  return compact(`^${canonicalForm(value)}`);
}

const PERCENT = 37;
const COLON = 58;
/** First characters a key function's result or a scope must not start with (see the format above). */
const RESERVED_LEAD = new Set([35 /* # */, 61 /* = */, 94 /* ^ */, 126 /* ~ */]);

/**
 * `text` with `%`, lone surrogates and (when `colon`) `:` escaped, and (when
 * `lead`) a first character of `# = ^ ~` escaped: a one-to-one map onto
 * well-formed text. Text that needs none of it is returned as it is.
 */
export function escapePart(text: string, colon: boolean, lead: boolean): string {
  let i = 0;
  if (lead && text.length > 0 && RESERVED_LEAD.has(text.charCodeAt(0))) {
    return `%${text.charCodeAt(0).toString(16).toUpperCase()}${escapePart(text.slice(1), colon, false)}`;
  }
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === PERCENT || (colon && c === COLON)) break;
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
      else break;
    }
  }
  if (i === text.length) return text;
  let out = text.slice(0, i);
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === PERCENT) out += '%25';
    else if (colon && c === COLON) out += '%3A';
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += text[i]! + text[i + 1]!;
        i++;
      } else {
        out += `%u${c.toString(16).toUpperCase()}`;
      }
    } else out += text[i]!;
  }
  return out;
}

/** The key part of a cache prefix (ends at the first `:`). */
export function prefixPart(prefix: string): string {
  return escapePart(prefix, true, false);
}

/** The key part of a namespace (ends at the first `:`). */
export function namespacePart(namespace: string): string {
  return escapePart(namespace, true, false);
}

/** The key of `get`/`set(key)` and `clear({ key })`: as given, `:` included (it reads as a namespace separator). */
export function plainKeyPart(key: string): string {
  return escapePart(key, false, false);
}

/**
 * The key part of a private scope: `~<scope>:`, or `~#<sha256>:` for a long one.
 * The `~` keeps it apart from every call part (see {@link userKeySegment}).
 */
export function scopeSegment(scope: string): string {
  const verbatim = escapePart(scope, true, true);
  return verbatim.length <= MAX_VERBATIM_SCOPE ? `~${verbatim}:` : `~#${hashPart(verbatim)}:`;
}

/**
 * The call part for a `key` function's result (and for `clear({ namespace, key })`,
 * which so finds it): as given unless it starts with one of `~ = ^ #` (escaped),
 * hashed when long.
 */
export function userKeySegment(key: string): string {
  return compact(escapePart(key, false, true));
}

/**
 * Keys of invalidation state, stored as ordinary entries beside the cached ones
 * (so any backend, and a tier in front of one, keeps and drops them like any other
 * key). They are entry keys like `namespace:…`, relative to `<prefix>:`:
 *
 *   `%T:<tag>`                  the current token of a tag (`memorize({ tags })`)
 *   `%E`                        the cache's invalidation epoch
 *   `%N:<namespace>`            the fence of a namespace (path and input targets, see `fence.ts`)
 *
 * No other key can start with `%` followed by a letter: every `%` in a prefix,
 * namespace, scope, call part or `set()` key is written `%25`, and the escapes
 * of the key format are `%25`, `%3A`, `%u…` and `%23 %3D %5E %7E` only. So these
 * keys meet neither a `set()` key nor a namespace, and `clear({ namespace })`
 * never reaches them (while `clear()` drops them with everything else).
 */
export const EPOCH_STATE = '%E';

/** The state key of a tag: `%T:<tag>` (the tag escaped one-to-one, `:` kept). */
export function tagStateKey(tag: string): string {
  return `%T:${escapePart(tag, false, false)}`;
}

/**
 * The state key of a namespace's fence: `%N:<namespace part>` (the namespace
 * escaped as in entry keys, so distinct namespaces have distinct fences).
 */
export function fenceStateKey(namespace: string): string {
  return `%N:${namespacePart(namespace)}`;
}
