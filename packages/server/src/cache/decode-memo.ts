import { type DecodedEntry, decodeEntry, type EntryGuards } from './codec.js';

/**
 * Hit-path speed-up of {@link decodeEntry}: the decoded form of recently read
 * plain-JSON entries is kept, and a read of the very same stored string gets a
 * structural copy of it instead of a fresh `JSON.parse` (about 4× faster for a
 * 1 KB object, and what brings a memorized hit close to the cost of the bare
 * procedure). Every caller still gets its own copy: what one mutates, the next
 * never sees.
 *
 * Correct by construction: a kept form is only used for a string equal to the one
 * it was decoded from (the memory backend even hands back the same string object,
 * so the check is a pointer comparison). Entries with typed values (Date, Map, …)
 * are decoded every time. Bounded in entries and characters; oldest out first.
 */
const MAX_ENTRIES = 1_000;
const MAX_CHARS = 4_000_000;
/** Larger entries are parsed every time: keeping them would crowd out the many small ones. */
const MAX_ENTRY_CHARS = 256_000;

interface Kept {
  raw: string;
  /** Private: only ever copied, never handed out (see copyIn). */
  template: unknown;
  expiresAt: number | undefined;
  guarded: EntryGuards | undefined;
}

/**
 * An object of a template: a shallow copy of the parsed object with `null` in the
 * slots that hold objects or arrays, and those slots' keys with their templates.
 * A copy is one object spread (V8 clones a plain object's shape and fields in one
 * step, several times faster than assigning the keys one by one) plus a copy per
 * nested slot. Spreading also copies a `"__proto__"` key that `JSON.parse` made an
 * own data property as just that, and assigning it again then hits that own
 * property, not the prototype setter.
 */
class ObjectTemplate {
  constructor(
    readonly shallow: Record<string, unknown>,
    readonly nestedKeys: string[],
    readonly nested: unknown[],
  ) {}
}

/** An array of a template: like {@link ObjectTemplate}, by index. */
class ArrayTemplate {
  constructor(
    readonly shallow: unknown[],
    readonly nestedIndexes: number[],
    readonly nested: unknown[],
  ) {}
}

/** Not plain JSON: the entry is decoded every time. */
const TYPED = Symbol('typed');

/**
 * @internal One cache's kept decoded forms (each `Cache` owns one, and its
 * `clear()` empties it): bounded in entries and characters, oldest out first.
 */
export class DecodeMemo {
  readonly #kept = new Map<string, Kept>();
  #chars = 0;

  /** Decodes `raw` (stored under `fullKey`); same result and errors as {@link decodeEntry}. */
  decode(fullKey: string, raw: string): DecodedEntry {
    const known = this.#kept.get(fullKey);
    if (known !== undefined && known.raw === raw) {
      const copy: DecodedEntry = { value: copyOut(known.template), expiresAt: known.expiresAt };
      if (known.guarded !== undefined) copy.guarded = known.guarded;
      return copy;
    }
    const entry = decodeEntry(raw);
    if (known !== undefined) this.#forget(fullKey, known);
    if (raw.length <= MAX_ENTRY_CHARS) {
      const template = copyIn(entry.value);
      if (template !== TYPED)
        this.#keep(fullKey, { raw, template, expiresAt: entry.expiresAt, guarded: entry.guarded });
    }
    return entry;
  }

  /** How many decoded forms are kept (for tests). */
  get size(): number {
    return this.#kept.size;
  }

  /** Forgets every kept form. */
  clear(): void {
    this.#kept.clear();
    this.#chars = 0;
  }

  #keep(fullKey: string, entry: Kept): void {
    this.#kept.set(fullKey, entry);
    this.#chars += entry.raw.length;
    while (this.#kept.size > MAX_ENTRIES || this.#chars > MAX_CHARS) {
      const oldest = this.#kept.entries().next().value;
      if (oldest === undefined) break;
      this.#forget(oldest[0], oldest[1]);
    }
  }

  #forget(fullKey: string, entry: Kept): void {
    this.#kept.delete(fullKey);
    this.#chars -= entry.raw.length;
  }
}

/**
 * A private template of a `JSON.parse` result (see {@link ObjectTemplate} and
 * {@link ArrayTemplate}), or {@link TYPED} when the value holds anything JSON
 * cannot (then the codec revived types and must run every time).
 */
function copyIn(value: unknown): unknown {
  if (typeof value !== 'object') {
    // undefined and BigInt only come out of a typed entry.
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
      ? value
      : TYPED;
  }
  if (value === null) return null;
  const proto = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    const source = value as unknown[];
    const shallow = source.slice();
    const nestedIndexes: number[] = [];
    const nested: unknown[] = [];
    for (let i = 0; i < source.length; i++) {
      const item = source[i];
      if (typeof item !== 'object' || item === null) {
        if (copyIn(item) === TYPED) return TYPED;
        continue;
      }
      const template = copyIn(item);
      if (template === TYPED) return TYPED;
      nestedIndexes.push(i);
      nested.push(template);
      shallow[i] = null;
    }
    return new ArrayTemplate(shallow, nestedIndexes, nested);
  }
  if (proto !== Object.prototype) return TYPED;
  const source = value as Record<string, unknown>;
  const shallow: Record<string, unknown> = { ...source };
  const nestedKeys: string[] = [];
  const nested: unknown[] = [];
  for (const key of Object.keys(source)) {
    const item = source[key];
    if (typeof item !== 'object' || item === null) {
      if (copyIn(item) === TYPED) return TYPED;
      continue;
    }
    const template = copyIn(item);
    if (template === TYPED) return TYPED;
    nestedKeys.push(key);
    nested.push(template);
    shallow[key] = null;
  }
  return new ObjectTemplate(shallow, nestedKeys, nested);
}

/** A fresh copy of a template, shaped exactly like the `JSON.parse` output it came from. */
function copyOut(template: unknown): unknown {
  if (typeof template !== 'object' || template === null) return template;
  if (template instanceof ObjectTemplate) {
    const out = { ...template.shallow };
    const { nestedKeys, nested } = template;
    for (let i = 0; i < nestedKeys.length; i++) out[nestedKeys[i]!] = copyOut(nested[i]);
    return out;
  }
  const { shallow, nestedIndexes, nested } = template as ArrayTemplate;
  const out = shallow.slice();
  for (let i = 0; i < nestedIndexes.length; i++) out[nestedIndexes[i]!] = copyOut(nested[i]);
  return out;
}
