import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../../src/cache/codec.js';
import { CodecError } from '../../src/errors.js';

const roundTrip = (value: unknown) => decodeEntry(encodeEntry(value, undefined)).value;

describe('codec', () => {
  it('stores plain JSON as JSON (the fast path) and keeps the expiry in the header', () => {
    const raw = encodeEntry({ a: [1, 'x', null, true] }, 1_700_000_000_123);
    expect(raw).toBe('1700000000123|J{"a":[1,"x",null,true]}');
    expect(decodeEntry(raw)).toStrictEqual({
      value: { a: [1, 'x', null, true] },
      expiresAt: 1_700_000_000_123,
    });
    expect(decodeEntry(encodeEntry('s', undefined))).toStrictEqual({ value: 's', expiresAt: undefined });
  });

  it.each([
    ['Date', new Date('2020-01-02T03:04:05.678Z')],
    ['invalid Date', new Date(Number.NaN)],
    ['Map with object keys', new Map<unknown, unknown>([[{ k: 1 }, new Date(5)]])],
    ['Set', new Set([1, 'a', new Date(3)])],
    ['BigInt', -(2n ** 80n)],
    ['undefined', undefined],
    ['undefined field', { a: undefined, b: 1 }],
    ['undefined in an array', [undefined, 1]],
    ['NaN, ±Infinity, -0', [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0]],
    ['RegExp', /a+b/gi],
    ['URL', new URL('https://example.com/a?b=c#d')],
    [
      'nested',
      { rows: [{ at: new Date(1), tags: new Set(['x']), n: 1n }], meta: new Map([['m', { u: undefined }]]) },
    ],
  ])('round-trips %s exactly', (_, value) => {
    expect(roundTrip(value)).toStrictEqual(value);
  });

  it('keeps an own "__proto__" key as data and never writes into a prototype', () => {
    const value = JSON.parse('{"__proto__": {"polluted": 1}, "at": 0}') as Record<string, unknown>;
    value.at = new Date(0);
    const back = roundTrip(value) as Record<string, unknown>;
    expect(Object.hasOwn(back, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const hostile = '|T[{"a":{}},[[["a","__proto__","x"],"D"]]]';
    expect(() => decodeEntry(hostile)).toThrow(CodecError);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  class Money {
    constructor(readonly cents: number) {}
  }
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = { back: circular };

  it.each([
    ['a function', { f: () => 1 }, /a function \(f\) at f/],
    ['a symbol', { s: Symbol('x') }, /a symbol at s/],
    ['a symbol-keyed property', { [Symbol('k')]: 1 }, /symbol-keyed/],
    ['a class instance', { rows: [new Money(5)] }, /an instance of Money .* at rows\[0\]/],
    ['an Error', new Error('x'), /an instance of Error/],
    ['a subclass of Date', new (class Day extends Date {})(), /an instance of Day/],
    ['a circular structure', circular, /circular reference at self\.back/],
    ['a Map holding a function', new Map([['k', () => 1]]), /function/],
  ])('refuses %s with a CodecError naming it and where it is', (_, value, message) => {
    expect(() => encodeEntry(value, undefined)).toThrow(CodecError);
    expect(() => encodeEntry(value, undefined)).toThrow(message);
  });

  it('shares (non-circular) references as equal copies', () => {
    const shared = { x: 1 };
    expect(roundTrip({ a: shared, b: shared })).toStrictEqual({ a: { x: 1 }, b: { x: 1 } });
  });

  it.each([
    ['no header', 'garbage'],
    ['a bad expiry', 'soon|J1'],
    ['an unknown kind', '|X1'],
    ['broken JSON', '|J{"a":'],
    ['a typed entry without annotations', '|T{"a":1}'],
    ['an annotation on a missing path', '|T[{"a":1},[[["b"],"D"]]]'],
    ['an unknown annotation', '|T[{"a":1},[[["a"],"Q"]]]'],
    ['an annotation of the wrong shape', '|T[{"a":{}},[[["a"],"B"]]]'],
  ])('rejects an entry with %s as corrupt', (_, raw) => {
    expect(() => decodeEntry(raw)).toThrow(CodecError);
    expect(() => decodeEntry(raw)).toThrow(/corrupt cache entry/);
  });
});
