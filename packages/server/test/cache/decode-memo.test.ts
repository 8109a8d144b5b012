import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../../src/cache/codec.js';
import { DecodeMemo, deepFreeze } from '../../src/cache/decode-memo.js';

const memo = new DecodeMemo();
const decodeEntryMemoized = (key: string, raw: string) => memo.decode(key, raw);

describe('decodeEntryMemoized (the hit path of Cache.read)', () => {
  it('answers exactly what decodeEntry answers, as a fresh copy every time', () => {
    const raw = encodeEntry({ a: [1, { b: 'x' }], n: null, t: true, f: 1.5, e: [], o: {} }, 1_000);
    const first = decodeEntryMemoized('k1', raw);
    const second = decodeEntryMemoized('k1', raw);
    expect(first).toEqual(decodeEntry(raw));
    expect(second).toEqual(decodeEntry(raw));
    expect(second.value).not.toBe(first.value);
    (second.value as { a: unknown[] }).a.push('mutated');
    (first.value as { o: Record<string, number> }).o.x = 1;
    expect(decodeEntryMemoized('k1', raw)).toEqual(decodeEntry(raw));
  });

  it('keeps a "__proto__" key as data, like JSON.parse', () => {
    const raw = `|J${'{"__proto__":{"polluted":true},"ok":1}'}`;
    decodeEntryMemoized('k2', raw);
    const copy = decodeEntryMemoized('k2', raw).value as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__', 'ok']);
    expect(copy).toEqual(JSON.parse('{"__proto__":{"polluted":true},"ok":1}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('decodes again when the stored string changes', () => {
    decodeEntryMemoized('k3', encodeEntry({ v: 1 }, undefined));
    expect(decodeEntryMemoized('k3', encodeEntry({ v: 2 }, 5)).value).toEqual({ v: 2 });
    expect(decodeEntryMemoized('k3', encodeEntry({ v: 2 }, 5)).expiresAt).toBe(5);
  });

  it('revives typed values every time', () => {
    const raw = encodeEntry({ at: new Date(5), m: new Map([[1, 2]]) }, undefined);
    const first = decodeEntryMemoized('k4', raw).value as { at: Date };
    const second = decodeEntryMemoized('k4', raw).value as { at: Date; m: Map<number, number> };
    expect(second.at).toBeInstanceOf(Date);
    expect(second.at).not.toBe(first.at);
    expect(second.m.get(1)).toBe(2);
  });

  it('throws what decodeEntry throws for a corrupt entry', () => {
    expect(() => decodeEntryMemoized('k5', 'garbage')).toThrow(/corrupt/);
    expect(() => decodeEntryMemoized('k5', '|J{not json')).toThrow(/corrupt/);
  });

  it('property: a kept form copies out exactly what JSON.parse gives, and every copy is its own', () => {
    const local = new DecodeMemo();
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const raw = encodeEntry(value, undefined);
        const parsed = decodeEntry(raw).value;
        const first = local.decode('p', raw).value;
        const second = local.decode('p', raw).value;
        expect(first).toStrictEqual(parsed);
        expect(second).toStrictEqual(parsed);
        if (typeof second === 'object' && second !== null) expect(second).not.toBe(first);
      }),
      { numRuns: 2_000 },
    );
  });

  it('is bounded in entries, and clear() forgets every kept form', () => {
    const local = new DecodeMemo();
    for (let i = 0; i < 1_500; i++) local.decode(`k${i}`, encodeEntry({ i }, undefined));
    expect(local.size).toBe(1_000);
    local.clear();
    expect(local.size).toBe(0);
    expect(local.decode('k1', encodeEntry({ i: 1 }, undefined)).value).toEqual({ i: 1 });
  });
});

describe('shared reads (by-reference hits)', () => {
  it('hand every shared read of an entry one deep-frozen value, and copy reads stay fresh and mutable', () => {
    const local = new DecodeMemo();
    const raw = encodeEntry({ list: [{ id: 1, tags: ['a'] }], meta: { n: 1 } }, 50);
    const copy = local.decode('k', raw);
    const first = local.decode('k', raw, true);
    const second = local.decode('k', raw, true);
    expect(second).toBe(first);
    expect(first).toEqual({ value: decodeEntry(raw).value, expiresAt: 50 });
    const shared = first.value as { list: { tags: string[] }[]; meta: { n: number } };
    expect(() => shared.list[0]!.tags.push('x')).toThrow(TypeError);
    expect(() => {
      shared.meta.n = 2;
    }).toThrow(TypeError);
    expect(() => {
      (first as { expiresAt: number }).expiresAt = 1;
    }).toThrow(TypeError);
    (copy.value as { meta: { n: number } }).meta.n = 3;
    const later = local.decode('k', raw);
    expect(later.value).toEqual(decodeEntry(raw).value);
    expect(Object.isFrozen(later.value)).toBe(false);
    expect(later.value).not.toBe(shared);
  });

  it('share the value parsed by the first read when that read is a shared one', () => {
    const local = new DecodeMemo();
    const raw = encodeEntry([{ a: 1 }], undefined);
    const first = local.decode('k', raw, true);
    expect(local.decode('k', raw, true)).toBe(first);
    expect(Object.isFrozen((first.value as object[])[0])).toBe(true);
  });

  it('decode typed entries per read, deep-frozen (a Map or Date is never shared)', () => {
    const local = new DecodeMemo();
    const raw = encodeEntry({ at: new Date(5), m: new Map([['k', { v: 1 }]]) }, undefined);
    const first = local.decode('k', raw, true).value as { at: Date; m: Map<string, { v: number }> };
    const second = local.decode('k', raw, true).value as typeof first;
    expect(second).toEqual(decodeEntry(raw).value);
    expect(second).not.toBe(first);
    expect(second.m).not.toBe(first.m);
    expect(Object.isFrozen(second.m.get('k'))).toBe(true);
  });

  it('share a new value once the stored string changes', () => {
    const local = new DecodeMemo();
    const before = local.decode('k', encodeEntry({ v: 1 }, undefined), true);
    const after = local.decode('k', encodeEntry({ v: 2 }, undefined), true);
    expect(after.value).toEqual({ v: 2 });
    expect(before.value).toEqual({ v: 1 });
  });
});

describe('deepFreeze', () => {
  it('freezes objects, arrays, Map and Set entries, and leaves a RegExp usable', () => {
    const value = deepFreeze({
      list: [{ a: 1 }],
      m: new Map([['k', { v: 1 }]]),
      s: new Set([{ w: 1 }]),
      re: /a/g,
    });
    expect(Object.isFrozen(value.list[0])).toBe(true);
    expect(Object.isFrozen(value.m.get('k'))).toBe(true);
    expect(Object.isFrozen([...value.s][0])).toBe(true);
    expect(value.re.test('aa')).toBe(true);
    expect(value.re.lastIndex).toBe(1);
  });
});
