/**
 * Structure-specialised copies of `JSON.parse` output: the copy each cache hit hands
 * out, made by a function compiled for the value's *shape* (its keys and nesting,
 * not its data). For the shape of
 * `{ id: 'post-1', tags: ['a', 'b'], author: { id: 42, name: 'Ada' } }` the copier is
 *
 * ```js
 * function copy(c) { return { "id": c[0], "tags": c[1].slice(), "author": { "id": c[2], "name": c[3] } } }
 * ```
 *
 * called with the entry's leaves `c = ['post-1', ['a', 'b'], 42, 'Ada']`. An object
 * literal is allocated from a ready-made layout and filled by plain stores, so a copy
 * of a 1 KB object costs about an eighth of a generic walk that spreads objects and
 * stores keys it reads at run time. Every entry of one shape (`post.byId` for any id)
 * shares one copier, and an array whose items all have one shape (a list of rows)
 * copies them in a loop, so a list of any length has one shape too.
 *
 * Only the structure goes into the compiled text: every key is written as a JSON
 * string literal (`JSON.stringify` escapes whatever could end it) and a `__proto__`
 * key as a computed one (`["__proto__"]: …` defines an own data property, as
 * `JSON.parse` does, where `"__proto__": …` would set the prototype). Values are
 * never compiled, they are read from `c`. Primitive arrays held in `c` are only ever
 * sliced, never handed out.
 *
 * Where code cannot be compiled from text (Cloudflare Workers and other hosts that
 * forbid `new Function`), or for a shape past the size bounds, the caller keeps its
 * generic copy; nothing else changes.
 */

/** Copies one value of a shape from its leaves. */
export type CopyFn = (leaves: unknown[]) => unknown;

/** One shape: the expression that rebuilds a value of it, and the shapes of its uniform arrays' items. */
export interface Shape {
  /** The expression, over the leaves `c`, the item copiers `S0…` and their loops `M0…`. */
  readonly code: string;
  /** `subs[j]` is the item shape of the uniform arrays the code copies with `M${j}`. */
  readonly subs: readonly Shape[];
  /** Unique within its {@link ShapeRegistry}: how parents name it in their keys. */
  readonly id: number;
  /** The compiled copier, once made; `null` when it cannot be. */
  fn: CopyFn | undefined | null;
  /** Copies made with this shape while not yet compiled (see {@link ShapeRegistry.use}). */
  uses: number;
}

/** A value's shape and its leaves: `plan.shape.fn(plan.leaves)` is a fresh copy of it. */
export interface CopyPlan {
  readonly shape: Shape;
  readonly leaves: unknown[];
}

/** Thrown inside planning when a value is past the bounds (caught by {@link ShapeRegistry.plan}). */
const TOO_BIG = Symbol('too big');

/** Bounds of one compiled copier: its text, and how deep its literals nest. */
const MAX_CODE_CHARS = 20_000;
const MAX_DEPTH = 64;
/** Shapes a registry remembers (each with its compiled text); oldest out first. */
const MAX_SHAPES = 500;

/** `false` once the host refused to compile code from text: never tried again. */
let canCompile = true;

/**
 * The shapes one cache has seen, bounded, oldest out first. A shape is compiled once
 * its copies made the generic way reach `compileAfter`: a shape seen a couple of times
 * never pays for compiling (tens of microseconds), a hot one pays once.
 */
export class ShapeRegistry {
  readonly #shapes = new Map<string, Shape>();
  #nextId = 0;

  constructor(readonly compileAfter: number) {}

  /**
   * The plan of `value` (a `JSON.parse` result that no one else holds: its primitive
   * arrays become leaves), or `undefined` when it is past the bounds or not an object.
   */
  plan(value: unknown): CopyPlan | undefined {
    if (typeof value !== 'object' || value === null || !canCompile) return undefined;
    const leaves: unknown[] = [];
    const subs: Shape[] = [];
    try {
      const code = this.#node(value, leaves, subs, { chars: 0 }, 0);
      return { shape: this.#intern(code, subs), leaves };
    } catch (error) {
      if (error === TOO_BIG || error instanceof RangeError) return undefined;
      throw error;
    }
  }

  /**
   * Counts one generic copy made with `shape` and compiles it once that count reaches
   * `compileAfter`; returns its copier when there is one.
   */
  use(shape: Shape): CopyFn | undefined {
    if (shape.fn !== undefined) return shape.fn ?? undefined;
    if (++shape.uses < this.compileAfter) return undefined;
    return compile(shape) ?? undefined;
  }

  /** Forgets every shape (entries holding a plan keep theirs). */
  clear(): void {
    this.#shapes.clear();
  }

  /** How many shapes are remembered (for tests). */
  get size(): number {
    return this.#shapes.size;
  }

  #intern(code: string, subs: Shape[]): Shape {
    const key = keyOf(code, subs);
    const known = this.#shapes.get(key);
    if (known !== undefined) return known;
    const shape: Shape = { code, subs, id: this.#nextId++, fn: undefined, uses: 0 };
    this.#shapes.set(key, shape);
    if (this.#shapes.size > MAX_SHAPES) {
      const oldest = this.#shapes.keys().next().value;
      if (oldest !== undefined) this.#shapes.delete(oldest);
    }
    return shape;
  }

  /** The expression that rebuilds `value`, pushing its leaves and item shapes. */
  #node(value: unknown, leaves: unknown[], subs: Shape[], size: { chars: number }, depth: number): string {
    if (typeof value !== 'object' || value === null) return leaf(value, leaves, size);
    if (depth >= MAX_DEPTH) throw TOO_BIG;
    let code: string;
    if (Array.isArray(value)) code = this.#array(value, leaves, subs, size, depth);
    else {
      const record = value as Record<string, unknown>;
      code = '{';
      for (const key of Object.keys(record)) {
        const name = key === '__proto__' ? '["__proto__"]' : JSON.stringify(key);
        size.chars += name.length + 2;
        code += `${code.length > 1 ? ',' : ''}${name}:${this.#node(record[key], leaves, subs, size, depth + 1)}`;
      }
      code += '}';
    }
    if (size.chars > MAX_CODE_CHARS) throw TOO_BIG;
    return code;
  }

  #array(array: unknown[], leaves: unknown[], subs: Shape[], size: { chars: number }, depth: number): string {
    if (array.length === 0) {
      size.chars += 2;
      return '[]';
    }
    if (array.every((item) => typeof item !== 'object' || item === null)) {
      size.chars += 16;
      leaves.push(array);
      return `c[${leaves.length - 1}].slice()`;
    }
    // Items that all have one shape: one item copier, run over their leaves in a loop
    // (so a list has the same shape whatever its length).
    if (array.every((item) => typeof item === 'object' && item !== null)) {
      let itemKey: string | undefined;
      let itemCode = '';
      let itemSubs: Shape[] = [];
      const itemLeaves: unknown[][] = [];
      for (const item of array) {
        const own: unknown[] = [];
        const ownSubs: Shape[] = [];
        const itemSize = { chars: 0 };
        const code = this.#node(item, own, ownSubs, itemSize, depth + 1);
        const key = keyOf(code, ownSubs);
        if (itemKey === undefined) {
          itemKey = key;
          itemCode = code;
          itemSubs = ownSubs;
          size.chars += itemSize.chars;
        } else if (key !== itemKey) {
          itemKey = undefined;
          break;
        }
        itemLeaves.push(own);
      }
      if (itemKey !== undefined) {
        const itemShape = this.#intern(itemCode, itemSubs);
        let j = subs.indexOf(itemShape);
        if (j < 0) j = subs.push(itemShape) - 1;
        leaves.push(itemLeaves);
        size.chars += 16;
        return `M${j}(c[${leaves.length - 1}])`;
      }
    }
    let code = '[';
    for (let i = 0; i < array.length; i++) {
      code += `${i > 0 ? ',' : ''}${this.#node(array[i], leaves, subs, size, depth + 1)}`;
    }
    return `${code}]`;
  }
}

/** What tells shapes apart: the code and which item shapes its loops run. */
function keyOf(code: string, subs: readonly Shape[]): string {
  let key = code;
  for (const sub of subs) key += `\u0000${sub.id}`;
  return key;
}

function leaf(value: unknown, leaves: unknown[], size: { chars: number }): string {
  leaves.push(value);
  const ref = `c[${leaves.length - 1}]`;
  size.chars += ref.length;
  return ref;
}

/**
 * Compiles `shape` (and its item shapes); `null` when the host forbids compiling
 * from text or the text does not compile.
 */
function compile(shape: Shape): CopyFn | null {
  if (shape.fn !== undefined) return shape.fn;
  const items: CopyFn[] = [];
  for (const sub of shape.subs) {
    const fn = compile(sub);
    if (fn === null) break;
    items.push(fn);
  }
  if (items.length < shape.subs.length || !canCompile) {
    shape.fn = null;
    return null;
  }
  let text = '"use strict";';
  for (let j = 0; j < items.length; j++) {
    text += `const S${j}=s[${j}];function M${j}(l){const o=[];for(let i=0;i<l.length;i++)o.push(S${j}(l[i]));return o}`;
  }
  text += `return function copy(c){return ${shape.code}}`;
  try {
    // Only structure is compiled (keys as JSON string literals); values are read from the leaves.
    shape.fn = (new Function('s', text) as (items: CopyFn[]) => CopyFn)(items);
  } catch (error) {
    // EvalError: the host forbids code from text (a Content Security Policy, Workers).
    if (error instanceof EvalError) canCompile = false;
    shape.fn = null;
  }
  return shape.fn;
}
