import { type DecodedEntry, decodeEntry, type EntryGuards } from './codec.js';
import { type CopyFn, type CopyPlan, ShapeRegistry } from './copier.js';

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
 *
 * How a copy is made: the first copies of an entry walk its template (see
 * {@link ObjectTemplate}); from its second copy on, an entry is planned for a
 * copier compiled per shape (`copier.ts`), and once its shape has been copied the
 * generic way `compileAfter` times, every entry of that shape is copied by it.
 *
 * By-reference reads (`memorize({ byReference: true })`) get one deep-frozen value
 * per kept entry instead: no copy at all, and a mutation throws instead of leaking
 * to other callers. Typed and oversized entries are decoded (and frozen) per read.
 */
const MAX_ENTRIES = 1_000;
const MAX_CHARS = 4_000_000;
/** Larger entries are parsed every time: keeping them would crowd out the many small ones. */
const MAX_ENTRY_CHARS = 256_000;
/** Deeper entries are parsed every time (the template walks recurse). */
const MAX_DEPTH = 1_000;

interface Kept {
  raw: string;
  /** Private: only ever copied, never handed out (see copyIn); dropped once a compiled copier copies it. */
  template: unknown;
  expiresAt: number | undefined;
  guarded: EntryGuards | undefined;
  /** Its compiled-copier plan: `undefined` until planned, `null` when it cannot have one. */
  plan: CopyPlan | undefined | null;
  /** Copies made so far, until planned. */
  copies: number;
  /** The deep-frozen entry by-reference reads share, once one asked. */
  shared: DecodedEntry | undefined;
}

/** When an entry is planned and a shape compiled; tests lower them to reach the compiled path at once. */
export interface DecodeMemoOptions {
  /** Copies of an entry made the generic way before it is planned for a compiled copier. @default 2 */
  planAfter?: number;
  /** Copies of a shape made the generic way before its copier is compiled. @default 16 */
  compileAfter?: number;
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
  readonly #shapes: ShapeRegistry;
  readonly #planAfter: number;
  #chars = 0;

  constructor(options: DecodeMemoOptions = {}) {
    this.#planAfter = options.planAfter ?? 2;
    this.#shapes = new ShapeRegistry(options.compileAfter ?? 16);
  }

  /**
   * Decodes `raw` (stored under `fullKey`); same result and errors as
   * {@link decodeEntry}. With `shared`, the value is deep-frozen and, for a kept
   * entry, the same object for every shared read of it.
   */
  decode(fullKey: string, raw: string, shared = false): DecodedEntry {
    const known = this.#kept.get(fullKey);
    if (known !== undefined && known.raw === raw) {
      if (shared) return known.shared ?? this.#share(known);
      const plan = known.plan;
      const copy: CopyFn | null | undefined = plan?.shape.fn;
      const entry: DecodedEntry = {
        value: typeof copy === 'function' ? copy(plan!.leaves) : this.#copy(known),
        expiresAt: known.expiresAt,
      };
      if (known.guarded !== undefined) entry.guarded = known.guarded;
      return entry;
    }
    const entry = decodeEntry(raw);
    if (known !== undefined) this.#forget(fullKey, known);
    if (raw.length <= MAX_ENTRY_CHARS) {
      const template = copyIn(entry.value, 0);
      if (template !== TYPED) {
        const kept: Kept = {
          raw,
          template,
          expiresAt: entry.expiresAt,
          guarded: entry.guarded,
          plan: undefined,
          copies: 0,
          shared: undefined,
        };
        this.#keep(fullKey, kept);
        // The parsed value becomes the shared one: it is this call's and no one else's.
        if (shared) {
          kept.shared = sharedEntry(kept, deepFreeze(entry.value));
          return kept.shared;
        }
      }
    }
    if (shared) deepFreeze(entry.value);
    return entry;
  }

  /** How many decoded forms are kept (for tests). */
  get size(): number {
    return this.#kept.size;
  }

  /** How the kept entry under `fullKey` is copied now (for tests). */
  copierOf(fullKey: string): 'compiled' | 'generic' | undefined {
    const kept = this.#kept.get(fullKey);
    if (kept === undefined) return undefined;
    return typeof kept.plan?.shape.fn === 'function' ? 'compiled' : 'generic';
  }

  /** Forgets every kept form. */
  clear(): void {
    this.#kept.clear();
    this.#shapes.clear();
    this.#chars = 0;
  }

  /** A copy of a kept entry without a compiled copier (yet): the generic walk, counted towards one. */
  #copy(kept: Kept): unknown {
    let plan = kept.plan;
    if (plan === undefined && ++kept.copies >= this.#planAfter) {
      // Planned from a copy of its own: the plan's leaves are never handed out.
      plan = kept.plan = this.#shapes.plan(copyOut(kept.template)) ?? null;
    }
    if (plan != null) {
      const copy = this.#shapes.use(plan.shape);
      if (copy !== undefined) {
        kept.template = undefined;
        return copy(plan.leaves);
      }
    }
    return copyOut(kept.template);
  }

  #share(kept: Kept): DecodedEntry {
    const value = deepFreeze(
      kept.plan?.shape.fn ? kept.plan.shape.fn(kept.plan.leaves) : copyOut(kept.template),
    );
    kept.shared = sharedEntry(kept, value);
    return kept.shared;
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

/** The frozen entry every by-reference read of `kept` shares. */
function sharedEntry(kept: Kept, value: unknown): DecodedEntry {
  const entry: DecodedEntry = { value, expiresAt: kept.expiresAt };
  if (kept.guarded !== undefined) entry.guarded = kept.guarded;
  return Object.freeze(entry);
}

/**
 * A private template of a `JSON.parse` result (see {@link ObjectTemplate} and
 * {@link ArrayTemplate}), or {@link TYPED} when the value holds anything JSON
 * cannot (then the codec revived types and must run every time).
 */
function copyIn(value: unknown, depth: number): unknown {
  if (typeof value !== 'object') {
    // undefined and BigInt only come out of a typed entry.
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
      ? value
      : TYPED;
  }
  if (value === null) return null;
  if (depth > MAX_DEPTH) return TYPED;
  const proto = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    const source = value as unknown[];
    const shallow = source.slice();
    const nestedIndexes: number[] = [];
    const nested: unknown[] = [];
    for (let i = 0; i < source.length; i++) {
      const item = source[i];
      if (typeof item !== 'object' || item === null) {
        if (copyIn(item, depth + 1) === TYPED) return TYPED;
        continue;
      }
      const template = copyIn(item, depth + 1);
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
      if (copyIn(item, depth + 1) === TYPED) return TYPED;
      continue;
    }
    const template = copyIn(item, depth + 1);
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

/**
 * Freezes `value` and everything it holds (object fields, array items, Map and Set
 * entries), so a mutation throws in strict mode. A Map, Set or Date stays mutable
 * through its methods (`set`, `add`, `setTime`): freezing cannot reach their inner
 * state, which is why by-reference reads never share a value holding one. A RegExp
 * is left as it is: `exec()` and `test()` of a global one write its `lastIndex`.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || value instanceof RegExp) return value;
  Object.freeze(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      deepFreeze(k);
      deepFreeze(v);
    }
  } else if (value instanceof Set) {
    for (const v of value) deepFreeze(v);
  } else {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
