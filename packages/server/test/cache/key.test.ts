import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalForm,
  escapePart,
  KEY_LIMITS,
  MAX_VERBATIM,
  namespacePart,
  plainKeyPart,
  prefixPart,
  rawInputKey,
  scopeSegment,
  stableKey,
  userKeySegment,
} from '../../src/cache/key.js';
import { UnkeyableValueError } from '../../src/errors.js';
import { anyString, reordered, sameInput, trickyString, typedValue } from '../helpers/arbitraries.js';

/** The reason `stableKey(value)` refuses it, or `undefined` when it keys it. */
function refusal(value: unknown): string | undefined {
  try {
    stableKey(value);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(UnkeyableValueError);
    return (error as UnkeyableValueError).reason;
  }
}

/** A DAG `depth` levels deep whose every level holds the next one twice: 2^depth paths. */
function dag(depth: number, leaf: unknown = { v: 1 }): unknown {
  let node = leaf;
  for (let i = 0; i < depth; i++) node = { l: node, r: node };
  return node;
}

describe('stableKey', () => {
  it('ignores the order of keys in objects, Maps and Sets', () => {
    expect(stableKey({ a: 1, b: { c: [1, 2], d: 'x' } })).toBe(stableKey({ b: { d: 'x', c: [1, 2] }, a: 1 }));
    expect(
      stableKey(
        new Map([
          ['a', 1],
          ['b', 2],
        ]),
      ),
    ).toBe(
      stableKey(
        new Map([
          ['b', 2],
          ['a', 1],
        ]),
      ),
    );
    expect(stableKey(new Set([1, 2, 3]))).toBe(stableKey(new Set([3, 1, 2])));
  });

  it('keeps array order', () => {
    expect(stableKey([1, 2])).not.toBe(stableKey([2, 1]));
  });

  it('leaves out undefined object fields, as JSON transport does', () => {
    expect(stableKey({ a: 1, b: undefined })).toBe(stableKey({ a: 1 }));
    expect(stableKey([undefined])).not.toBe(stableKey([null]));
  });

  it('gives different inputs different keys', () => {
    const inputs: unknown[] = [
      undefined,
      null,
      0,
      -0,
      1,
      -1,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      '',
      '1',
      '-0',
      'null',
      'undefined',
      'a,b',
      true,
      'true',
      1n,
      '1n',
      [],
      {},
      [[]],
      [{}],
      ['a', 'b'],
      ['a,b'],
      { a: 'b' },
      { 'a":"b': 1 },
      { a: [1] },
      { a: '1' },
      new Date(0),
      new Date(1),
      new Date(Number.NaN),
      'D0',
      new Map(),
      new Set(),
      new Map([[1, 2]]),
      new Map([['1', 2]]),
      new Set([1]),
      [1],
      /a/g,
      /a/,
      Object.assign(/a/g, { lastIndex: 1 }),
      '/a/g',
      new URL('https://a.example/'),
      new URL('https://b.example/'),
      'https://a.example/',
      new Uint8Array([1, 2]),
      new Int8Array([1, 2]),
      new Uint8Array([1, 2, 0]),
      { 0: 1, 1: 2 },
      'x'.repeat(200),
      'x'.repeat(201),
      { long: 'y'.repeat(200) },
      'u\uD800',
      'u\uFFFD',
      'u\uDC00',
      '\uD800\uDC00',
      '\uDC00\uD800',
    ];
    const keys = inputs.map(stableKey);
    expect(new Set(keys).size).toBe(inputs.length);
  });

  it('reads short keys as they are and hashes long ones', () => {
    expect(stableKey({ id: '42' })).toBe('={"id":"42"}');
    expect(stableKey(undefined)).toBe('=undefined');
    const long = stableKey({ body: 'z'.repeat(500) });
    expect(long).toMatch(/^#[A-Za-z0-9_-]{43}$/);
    expect(long).toBe(stableKey({ body: 'z'.repeat(500) }));
    expect(long).not.toBe(stableKey({ body: `${'z'.repeat(499)}y` }));
  });

  it('keys a raw input apart from the same value validated', () => {
    expect(rawInputKey({ id: '42' })).toBe('^{"id":"42"}');
    expect(rawInputKey({ body: 'z'.repeat(500) })).not.toBe(stableKey({ body: 'z'.repeat(500) }));
  });

  it('keys a URL by its href, and what it cannot represent not at all', () => {
    expect(stableKey(new URL('https://b.example/'))).toBe('=L"https://b.example/"');
    expect(stableKey(new URL('https://a.example/private?token=1'))).not.toBe(
      stableKey(new URL('https://b.example/')),
    );
    class WithPrivate {
      #secret: string;
      constructor(secret: string) {
        this.#secret = secret;
      }
      get secret() {
        return this.#secret;
      }
    }
    class Plain {
      a = 1;
    }
    class MyDate extends Date {}
    const hidden = Object.defineProperty({ a: 1 }, 'b', { value: 2, enumerable: false });
    for (const value of [
      new WithPrivate('a'),
      new Plain(),
      new MyDate(0),
      new Error('boom'),
      new TypeError('boom'),
      Object(1),
      Object('s'),
      Object(true),
      Object(1n),
      { [Symbol('s')]: 1 },
      hidden,
      // biome-ignore lint/suspicious/noSparseArray: a hole is the subject
      [1, , 3],
      Object.assign(new Date(0), { tz: 'UTC' }),
      Object.assign(new Map(), { extra: 1 }),
      Object.assign(new URL('https://a.example/'), { note: 1 }),
      new URLSearchParams('a=1'),
      () => 1,
      Symbol('s'),
      new Promise(() => {}),
      new WeakMap(),
    ]) {
      expect(refusal(value), String(value)).toBe('type');
      expect(refusal({ nested: [value] }), String(value)).toBe('type');
    }
  });

  it('refuses cycles and anything past the limits of key building', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(refusal(cyclic)).toBe('depth');
    let deep: unknown = 1;
    for (let i = 0; i < KEY_LIMITS.depth; i++) deep = [deep];
    expect(refusal(deep)).toBeUndefined();
    expect(refusal([deep])).toBe('depth');
    expect(refusal(new Array(KEY_LIMITS.nodes - 1).fill(0))).toBeUndefined();
    expect(refusal(new Array(KEY_LIMITS.nodes).fill(0))).toBe('nodes');
    expect(
      refusal(Object.fromEntries(Array.from({ length: KEY_LIMITS.nodes }, (_, i) => [`k${i}`, i]))),
    ).toBe('nodes');
    expect(refusal('x'.repeat(KEY_LIMITS.size - 2))).toBeUndefined();
    expect(refusal('x'.repeat(KEY_LIMITS.size + 1))).toBe('size');
    // Escaping may make a string longer than it was: the limit is on the canonical form.
    expect(refusal(['\u0001'.repeat(KEY_LIMITS.size / 4)])).toBe('size');
    expect(refusal(10n ** BigInt(KEY_LIMITS.size))).toBe('size');
    expect(refusal(new Set(Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(1_000, 'x'))))).toBe('size');
  });

  it('keys shared references like the same data written out, and refuses them past the same limits', () => {
    const shared = { id: 1 };
    expect(stableKey({ a: shared, b: shared })).toBe(stableKey({ a: { id: 1 }, b: { id: 1 } }));
    expect(refusal(dag(8))).toBeUndefined();
    expect(refusal(dag(25))).toBe('nodes');
    // Past the first few hundred values, objects already walked are reused: still the same key...
    const filler = new Array(400).fill(0);
    const nest = (levels: number, leaf: unknown) => {
      let node = leaf;
      for (let i = 0; i < levels; i++) node = { n: node };
      return node;
    };
    const copy = () => nest(50, { id: [1, 2, 3] });
    const deep = copy();
    expect(stableKey({ filler, a: deep, b: [deep, deep] })).toBe(
      stableKey({ filler, a: copy(), b: [copy(), copy()] }),
    );
    // ...and the same limits, counted at each place: nodes, and depth where it appears deeper.
    expect(refusal({ filler, a: deep, b: nest(11, deep) })).toBeUndefined();
    expect(refusal({ filler, a: deep, b: nest(12, deep) })).toBe('depth');
    expect(refusal({ filler, a: copy(), b: nest(12, copy()) })).toBe('depth');
    const wide = new Array(2_000).fill(0);
    expect(refusal({ filler, a: wide, b: wide, c: wide, d: wide })).toBeUndefined();
    expect(refusal({ filler, a: wide, b: wide, c: wide, d: wide, e: wide })).toBe('nodes');
  });

  it('reads each shared object a bounded number of times: a DAG of 2^40 paths costs a few hundred reads', () => {
    // Every level is a Proxy that counts the properties read from it: the work done.
    let reads = 0;
    const counted = (target: object): object =>
      new Proxy(target, {
        get(object, property, receiver) {
          reads++;
          return Reflect.get(object, property, receiver);
        },
      });
    let node: object = counted({ v: 1 });
    for (let i = 0; i < 40; i++) node = counted({ l: node, r: node });
    expect(refusal(node)).toBe('nodes');
    // 41 objects of 2 properties: read in full until the memo starts, then once each.
    expect(reads).toBeLessThan(1_000);
  });

  it('property: two inputs share a key exactly when they are the same input', () => {
    fc.assert(
      fc.property(typedValue, typedValue, (a, b) => {
        expect(stableKey(a) === stableKey(b)).toBe(sameInput(a, b));
        expect(stableKey(reordered(a))).toBe(stableKey(a));
      }),
      { numRuns: 3_000 },
    );
  });

  it('property: canonical forms are well-formed text that UTF-8 carries unchanged', () => {
    fc.assert(
      fc.property(typedValue, (value) => {
        const form = canonicalForm(value);
        expect(Buffer.from(form, 'utf8').toString('utf8')).toBe(form);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('key parts', () => {
  it('escapes only what would be ambiguous or lost', () => {
    expect(prefixPart('app')).toBe('app');
    expect(prefixPart('app:users')).toBe('app%3Ausers');
    expect(namespacePart('post.byId')).toBe('post.byId');
    expect(namespacePart('post:comments')).toBe('post%3Acomments');
    expect(namespacePart('100%')).toBe('100%25');
    expect(plainKeyPart('loaderReport:SNF')).toBe('loaderReport:SNF');
    expect(plainKeyPart('u\uD800')).toBe('u%uD800');
    expect(plainKeyPart('u\uD83D\uDE00')).toBe('u\uD83D\uDE00');
    expect(scopeSegment('alice')).toBe('~alice:');
    expect(scopeSegment('a:b')).toBe('~a%3Ab:');
    expect(scopeSegment('#x')).toBe('~%23x:');
    expect(scopeSegment('k'.repeat(100))).toMatch(/^~#[A-Za-z0-9_-]{43}:$/);
    expect(userKeySegment('post/1')).toBe('post/1');
    // A key function result that looks like a scope, a canonical input or a hash is escaped.
    expect(userKeySegment('~alice:x')).toBe('%7Ealice:x');
    expect(userKeySegment('={"id":"7"}')).toBe('%3D{"id":"7"}');
    expect(userKeySegment('^{"id":"7"}')).toBe('%5E{"id":"7"}');
    expect(userKeySegment(`#${'a'.repeat(43)}`)).toBe(`%23${'a'.repeat(43)}`);
    expect(userKeySegment('k'.repeat(MAX_VERBATIM + 1))).toMatch(/^#[A-Za-z0-9_-]{43}$/);
  });

  const parts: [string, (text: string) => string][] = [
    ['prefix', prefixPart],
    ['namespace', namespacePart],
    ['plain key', plainKeyPart],
    ['scope', scopeSegment],
    ['key function result', userKeySegment],
    ['lead-escaped part', (text) => escapePart(text, true, true)],
  ];
  for (const [name, part] of parts) {
    it(`property: ${name}s map one-to-one onto well-formed text`, () => {
      fc.assert(
        fc.property(anyString, anyString, (a, b) => {
          const [x, y] = [part(a), part(b)];
          expect(x === y).toBe(a === b);
          expect(Buffer.from(x, 'utf8').toString('utf8')).toBe(x);
        }),
        { numRuns: 1_000 },
      );
    });
  }

  it('property: a prefix or namespace part ends where it seems to, so none is a prefix of another', () => {
    fc.assert(
      fc.property(trickyString(), trickyString(), (a, b) => {
        fc.pre(a !== b);
        expect(`${namespacePart(b)}:`.startsWith(`${namespacePart(a)}:`)).toBe(false);
        expect(`${prefixPart(b)}:`.startsWith(`${prefixPart(a)}:`)).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });

  it('property: scopes, inputs and key function results never meet in a call part', () => {
    const callPart = fc.oneof(
      typedValue.map((value) => ({ kind: 'validated', of: value, part: stableKey(value) })),
      typedValue.map((value) => ({ kind: 'raw', of: value, part: rawInputKey(value) })),
      anyString.map((key) => ({ kind: 'key', of: key, part: userKeySegment(key) })),
    );
    const scope = fc.option(anyString, { nil: undefined });
    fc.assert(
      fc.property(scope, callPart, scope, callPart, (s1, c1, s2, c2) => {
        const k1 = (s1 === undefined ? '' : scopeSegment(s1)) + c1.part;
        const k2 = (s2 === undefined ? '' : scopeSegment(s2)) + c2.part;
        const same =
          s1 === s2 && c1.kind === c2.kind && (c1.kind === 'key' ? c1.of === c2.of : sameInput(c1.of, c2.of));
        expect(k1 === k2).toBe(same);
      }),
      { numRuns: 3_000 },
    );
  });
});
