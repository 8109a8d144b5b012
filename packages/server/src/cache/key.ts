import { createHash } from 'node:crypto';

/**
 * Thrown by {@link stableKey} for a value that has no stable identity (a function,
 * a symbol, a cyclic or absurdly deep structure). `memorize` and `memorizeFn` then
 * run the call without the cache instead of failing it.
 */
export class UnkeyableValueError extends TypeError {
  override name = 'UnkeyableValueError';
}

/** Canonical forms longer than this are hashed; shorter ones are used as they are (readable in Redis). */
const MAX_VERBATIM = 96;
const MAX_DEPTH = 64;

/**
 * A stable, collision-free key part for `value`, the same for equal inputs whatever
 * the order of keys in their objects (and of entries in Maps and Sets).
 *
 * The canonical form is JSON-like with tags for what JSON cannot say (`undefined`,
 * `NaN`, `1n`, `D<epoch ms>`, `M[…]`, `S[…]`); object properties whose value is
 * `undefined` are left out, as JSON transport would. A short canonical form is the
 * key itself behind `=`; a long one is replaced by its SHA-256 behind `#`, so the two
 * kinds can never meet.
 *
 * @example
 * ```ts
 * stableKey({ b: 2, a: 1 }) === stableKey({ a: 1, b: 2 }); // true: '={"a":1,"b":2}'
 * stableKey(undefined); // '=undefined'
 * ```
 */
export function stableKey(value: unknown): string {
  if (value === undefined) return '=undefined';
  const canonical = canonicalize(value, 0);
  if (canonical.length <= MAX_VERBATIM) return `=${canonical}`;
  return `#${createHash('sha256').update(canonical).digest('base64url')}`;
}

function canonicalize(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      // String(-0) is '0': -0 and 0 are the same input once sent as JSON.
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'undefined';
    case 'bigint':
      return `${value}n`;
    case 'object':
      if (value === null) return 'null';
      if (depth >= MAX_DEPTH) throw new UnkeyableValueError('input nested too deeply (or cyclic) to key');
      return canonicalizeObject(value, depth + 1);
    default:
      throw new UnkeyableValueError(`cannot key a ${typeof value}`);
  }
}

function canonicalizeObject(value: object, depth: number): string {
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += canonicalize(value[i], depth);
    }
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null)
    return canonicalizeRecord(value as Record<string, unknown>, depth);
  if (value instanceof Date) return `D${value.getTime()}`;
  if (value instanceof Map) {
    const entries: string[] = [];
    for (const [k, v] of value) entries.push(`[${canonicalize(k, depth)},${canonicalize(v, depth)}]`);
    return `M[${entries.sort().join(',')}]`;
  }
  if (value instanceof Set) {
    const items: string[] = [];
    for (const item of value) items.push(canonicalize(item, depth));
    return `S[${items.sort().join(',')}]`;
  }
  if (value instanceof RegExp) return `R${JSON.stringify(String(value))}`;
  // Other class instances: their own fields, tagged with the class so that they
  // cannot meet a plain object (or another class) with the same fields.
  const name = typeof proto?.constructor === 'function' ? proto.constructor.name : '';
  return `C${JSON.stringify(name)}${canonicalizeRecord(value as Record<string, unknown>, depth)}`;
}

function canonicalizeRecord(value: Record<string, unknown>, depth: number): string {
  const keys = Object.keys(value);
  if (keys.length > 1) keys.sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const item = value[key];
    if (item === undefined) continue;
    out += first ? JSON.stringify(key) : `,${JSON.stringify(key)}`;
    out += `:${canonicalize(item, depth)}`;
    first = false;
  }
  return `${out}}`;
}

/** Scopes longer than this are hashed (they may be tokens: keep them out of key names). */
const MAX_VERBATIM_SCOPE = 64;

/**
 * The key part of a private scope: `~<length>.<scope>:` (or `~#<sha256>:` for a long
 * one). The length makes it unambiguous whatever the scope contains, and the `~`
 * keeps it apart from public key parts (see {@link userKeySegment}).
 */
export function scopeSegment(scope: string): string {
  if (scope.length > MAX_VERBATIM_SCOPE)
    return `~#${createHash('sha256').update(scope).digest('base64url')}:`;
  return `~${scope.length}.${scope}:`;
}

/**
 * A key part returned by a user's `key` function, kept as is (so
 * `clear({ namespace, key })` finds it) unless it starts with `~`, which only scope
 * parts may: such a key gets one more `~`, which no scope part has.
 */
export function userKeySegment(key: string): string {
  return key.charCodeAt(0) === 126 /* ~ */ ? `~${key}` : key;
}
