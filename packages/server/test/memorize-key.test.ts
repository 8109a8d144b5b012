import { describe, expect, it } from 'vitest';
import { scopeSegment, stableKey, UnkeyableValueError, userKeySegment } from '../src/cache/key.js';

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
      1,
      -1,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      '',
      '1',
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
      0,
      'D0',
      new Map(),
      new Set(),
      new Map([[1, 2]]),
      new Map([['1', 2]]),
      new Set([1]),
      [1],
      /a/g,
      '/a/g',
      new Uint8Array([1, 2]),
      { 0: 1, 1: 2 },
      'x'.repeat(200),
      'x'.repeat(201),
      { long: 'y'.repeat(200) },
    ];
    const keys = inputs.map(stableKey);
    const unique = new Map<string, unknown>();
    for (const [index, key] of keys.entries()) {
      if (unique.has(key) && !Object.is(unique.get(key), inputs[index])) {
        // 0 is listed twice on purpose: equal inputs must share their key.
        expect([unique.get(key), inputs[index]]).toEqual([0, 0]);
      }
      unique.set(key, inputs[index]);
    }
    expect(unique.size).toBe(inputs.length - 1);
  });

  it('reads short keys as they are and hashes long ones', () => {
    expect(stableKey({ id: '42' })).toBe('={"id":"42"}');
    expect(stableKey(undefined)).toBe('=undefined');
    const long = stableKey({ body: 'z'.repeat(500) });
    expect(long).toMatch(/^#[A-Za-z0-9_-]{43}$/);
    expect(long).toBe(stableKey({ body: 'z'.repeat(500) }));
    expect(long).not.toBe(stableKey({ body: `${'z'.repeat(499)}y` }));
  });

  it('refuses what has no stable identity', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => stableKey(cyclic)).toThrow(UnkeyableValueError);
    expect(() => stableKey({ f: () => 1 })).toThrow(UnkeyableValueError);
    expect(() => stableKey(Symbol('s'))).toThrow(UnkeyableValueError);
  });
});

describe('key segments', () => {
  it('makes scope segments that cannot meet each other or public keys', () => {
    expect(scopeSegment('alice')).toBe('~5.alice:');
    expect(scopeSegment('a:')).not.toBe(scopeSegment('a'));
    expect(scopeSegment('k'.repeat(100))).toMatch(/^~#[A-Za-z0-9_-]{43}:$/);
    expect(userKeySegment('post/1')).toBe('post/1');
    // A user key that looks like a scope segment gets a second ~, which no scope segment has.
    expect(userKeySegment('~5.alice:x')).toBe('~~5.alice:x');
  });
});
