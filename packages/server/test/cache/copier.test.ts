import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../../src/cache/codec.js';
import { ShapeRegistry } from '../../src/cache/copier.js';
import { DecodeMemo } from '../../src/cache/decode-memo.js';
import { trickyString, typedValue } from '../helpers/arbitraries.js';

/** Keys that have broken copiers: prototype names, array-index lookalikes, the copier's own names, quotes. */
const KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '0',
  '1',
  '10',
  '-1',
  '01',
  '4294967295',
  '',
  'c',
  's',
  'S0',
  'M0',
  'o',
  'l',
  'copy',
  '"',
  '\\',
  '}',
  '`${',
  '\u2028',
  '\u0000',
  '\uD800',
  'a',
  'b',
];
const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 1, arbitrary: trickyString(6) },
);

const scalar = fc.oneof(
  trickyString(6),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);

/**
 * JSON texts (so `__proto__` keys are own data properties, as `JSON.parse` makes
 * them), with lists of same-shaped rows (the copier's loops), mixed and nested arrays.
 */
const jsonText: fc.Arbitrary<string> = fc.letrec<{
  node: string;
  object: string;
  array: string;
  rows: string;
}>((tie) => ({
  node: fc.oneof(
    { maxDepth: 4, depthIdentifier: 'json' },
    scalar.map((v) => JSON.stringify(v)),
    tie('object'),
    tie('array'),
    tie('rows'),
  ),
  object: fc
    .array(fc.tuple(key, tie('node')), { maxLength: 5, depthIdentifier: 'json' })
    .map((fields) => `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  array: fc
    .array(tie('node'), { maxLength: 5, depthIdentifier: 'json' })
    .map((items) => `[${items.join(',')}]`),
  rows: fc
    .tuple(fc.uniqueArray(key, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 6 }), tie('node'))
    .chain(([keys, n, nested]) =>
      fc
        .array(fc.array(scalar, { minLength: keys.length, maxLength: keys.length }), {
          minLength: n,
          maxLength: n,
        })
        .map(
          (rows) =>
            `[${rows
              .map(
                (row) =>
                  `{${keys.map((k, i) => `${JSON.stringify(k)}:${i === 0 ? nested : JSON.stringify(row[i])}`).join(',')}}`,
              )
              .join(',')}]`,
        ),
    ),
})).node;

/** Fails unless `copy` is `expected` exactly: values, key order, prototypes, plain writable fields. */
function expectSameTree(copy: unknown, expected: unknown): void {
  // (Not toStrictEqual: it compares `constructor` properties as types, and data may hold one.)
  expect(isDeepStrictEqual(copy, expected)).toBe(true);
  expect(JSON.stringify(copy)).toBe(JSON.stringify(expected));
  const problems: string[] = [];
  const walk = (a: unknown, b: unknown, at: string): void => {
    if (typeof b !== 'object' || b === null) return;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) problems.push(`${at}: prototype`);
    if (!isDeepStrictEqual(Reflect.ownKeys(a as object), Reflect.ownKeys(b))) problems.push(`${at}: keys`);
    for (const k of Object.keys(b)) {
      const field = Object.getOwnPropertyDescriptor(a, k);
      if (!field?.enumerable || !field.writable || !field.configurable)
        problems.push(`${at}.${k}: not a plain field`);
      walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
    }
  };
  walk(copy, expected, '');
  expect(problems).toEqual([]);
}

/** Every object and array inside `value`; `aliased` gets any reachable twice (copies never alias). */
function nodesOf(value: unknown, into: Set<object>, aliased: object[]): Set<object> {
  if (typeof value !== 'object' || value === null) return into;
  if (into.has(value)) aliased.push(value);
  into.add(value);
  for (const item of Object.values(value)) nodesOf(item, into, aliased);
  return into;
}

/** Changes everything a caller can reach: every field, every array, every key. */
function vandalize(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  for (const item of Object.values(value)) vandalize(item);
  if (Array.isArray(value)) {
    value.push('pushed');
    value[0] = 'overwritten';
  } else {
    const record = value as Record<string, unknown>;
    for (const k of Object.keys(record)) record[k] = 'overwritten';
    record.added = 1;
  }
}

/** A memo that plans every entry at its first copy and compiles every shape at its first use. */
const eager = () => new DecodeMemo({ planAfter: 1, compileAfter: 1 });

describe('compiled copier (the decode memo copies entries with it)', () => {
  it('property: every copy is exactly what JSON.parse gives, shares no object with another, and survives vandalism of the others', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        const parsed = JSON.parse(text) as unknown;
        const raw = encodeEntry(parsed, undefined);
        const memo = eager();
        const copies = Array.from({ length: 4 }, () => memo.decode('k', raw).value);
        if (typeof parsed === 'object' && parsed !== null) expect(memo.copierOf('k')).toBe('compiled');
        const seen = new Set<object>();
        const aliased: object[] = [];
        for (const copy of copies) {
          expectSameTree(copy, decodeEntry(raw).value);
          nodesOf(copy, seen, aliased); // across copies too: `seen` is shared
        }
        expect(aliased).toEqual([]);
        for (const copy of copies) vandalize(copy);
        expectSameTree(memo.decode('k', raw).value, JSON.parse(text));
      }),
      { numRuns: 400 },
    );
    expect(({} as Record<string, unknown>).overwritten).toBeUndefined();
  });

  it('property: any cacheable value (Dates, Maps, holes, null prototypes, shared references) reads back as the codec decodes it, a fresh copy per read', () => {
    const value = fc.oneof(
      typedValue,
      typedValue.map((v) => ({ twice: v, again: v })), // one object held twice
      fc.array(fc.option(scalar), { maxLength: 4 }).map((items) => {
        const holey = new Array<unknown>(items.length + 2);
        items.forEach((item, i) => {
          if (item !== null) holey[i] = item;
        });
        return holey;
      }),
      fc
        .dictionary(fc.constantFrom(...KEYS), scalar)
        .map((fields) => Object.assign(Object.create(null), fields)),
    );
    fc.assert(
      fc.property(value, (input) => {
        let raw: string;
        try {
          raw = encodeEntry(input, 123);
        } catch {
          return; // not cacheable: never reaches the memo
        }
        const memo = eager();
        const first = memo.decode('k', raw);
        const second = memo.decode('k', raw);
        const third = memo.decode('k', raw);
        const expected = decodeEntry(raw);
        for (const read of [first, second, third]) {
          // isDeepStrictEqual calls two invalid Dates different; toStrictEqual decides those.
          if (!isDeepStrictEqual(read, expected)) expect(read).toStrictEqual(expected);
        }
        if (typeof third.value === 'object' && third.value !== null) {
          expect(third.value).not.toBe(second.value);
          expect(second.value).not.toBe(first.value);
        }
      }),
      { numRuns: 600 },
    );
  });

  it('gives every entry of one shape the same copier, whatever its data and list lengths', () => {
    const registry = new ShapeRegistry(1);
    const post = (id: string, comments: number) => ({
      id,
      author: { id: 42, name: 'Ada' },
      tags: Array.from({ length: comments }, (_, i) => `t${i}`),
      comments: Array.from({ length: comments }, (_, i) => ({ id: i, text: `c${i}`, likes: [i] })),
    });
    const a = registry.plan(post('a', 1));
    const b = registry.plan(post('b', 7));
    const other = registry.plan({ ...post('c', 2), extra: true });
    expect(a?.shape).toBe(b?.shape);
    expect(other?.shape).not.toBe(a?.shape);
    const copy = registry.use(b!.shape);
    expect(copy?.(b!.leaves)).toStrictEqual(post('b', 7));
    expect(registry.use(a!.shape)?.(a!.leaves)).toStrictEqual(post('a', 1));
  });

  it('compiles a shape only after compileAfter generic copies', () => {
    const registry = new ShapeRegistry(3);
    const plan = registry.plan({ a: 1 })!;
    expect(registry.use(plan.shape)).toBeUndefined();
    expect(registry.use(plan.shape)).toBeUndefined();
    expect(registry.use(plan.shape)?.(plan.leaves)).toStrictEqual({ a: 1 });
  });

  it('has no plan for values past its bounds, and the memo still copies them exactly', () => {
    const registry = new ShapeRegistry(1);
    const wide = Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`field${i}`, i]));
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(registry.plan(wide)).toBeUndefined();
    expect(registry.plan(deep)).toBeUndefined();
    expect(registry.plan('text')).toBeUndefined();
    const memo = eager();
    // Deeper than the memo keeps (it would recurse): JSON.parse every time.
    // (1,500 levels: deep recursive comparisons overflow a worker thread's stack well before 5,000.)
    const deeper = `|J${'['.repeat(1_500)}1${']'.repeat(1_500)}`;
    for (const raw of [encodeEntry(wide, undefined), encodeEntry(deep, undefined), deeper]) {
      const first = memo.decode(raw, raw).value;
      const second = memo.decode(raw, raw).value;
      expect(JSON.stringify(second)).toBe(raw.slice(2));
      expect(second).not.toBe(first);
    }
    expect(memo.copierOf(deeper)).toBeUndefined(); // not kept
  });

  it('falls back to the generic copy where the host forbids compiling code from text', () => {
    const here = fileURLToPath(new URL('.', import.meta.url));
    const script = `
      import { DecodeMemo } from '../../src/cache/decode-memo.ts';
      import { encodeEntry } from '../../src/cache/codec.ts';
      let compiled = true;
      try { new Function('return 1'); } catch (error) { compiled = !(error instanceof EvalError); }
      const memo = new DecodeMemo({ planAfter: 1, compileAfter: 1 });
      const value = { rows: [{ id: 1, tags: ['a'] }, { id: 2, tags: [] }], n: null };
      const raw = encodeEntry(value, undefined);
      const copies = Array.from({ length: 5 }, () => memo.decode('k', raw).value);
      copies[0].rows[0].tags.push('mutated');
      console.log(JSON.stringify({ compiled, same: copies.slice(1).every((c) => JSON.stringify(c) === JSON.stringify(value)), fresh: copies[1] !== copies[2] }));
    `;
    const child = spawnSync(
      process.execPath,
      ['--disallow-code-generation-from-strings', '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: here, encoding: 'utf8' },
    );
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ compiled: false, same: true, fresh: true });
  });
});
