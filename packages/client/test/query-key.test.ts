import { partialMatchKey as reactQueryMatch } from '@tanstack/query-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { partialMatchKey } from '../src/query-key.js';

/** Query-key-like values: tRPC keys, nested inputs, and arbitrary JSON. */
const keyPart = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom<unknown>(undefined, null, 0, 1, '', 'a', 'b', true, false),
    fc.string(),
    fc.integer(),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('id', 'page', 'input', 'type', 'a', '__proto__'), tie('value'), {
      maxKeys: 4,
    }),
  ),
})).value;

describe('partialMatchKey', () => {
  it('decides exactly as the installed React Query does', () => {
    fc.assert(
      fc.property(keyPart, keyPart, (a, b) => {
        // React Query types its keys as arrays: compare one-item keys, which recurse alike.
        expect(partialMatchKey([a], [b])).toBe(reactQueryMatch([a], [b]));
        expect(partialMatchKey(a, b)).toBe(partialMatchKey([a], [b]));
        expect(partialMatchKey(a, a)).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });

  it('matches a tRPC query by a partial input', () => {
    const key = [['post', 'byId'], { input: { id: '1', locale: 'en' }, type: 'query' }];
    expect(partialMatchKey(key, [['post', 'byId'], { input: { id: '1' } }])).toBe(true);
    expect(partialMatchKey(key, [['post', 'byId'], { input: { id: '2' } }])).toBe(false);
    expect(partialMatchKey(key, [['post']])).toBe(true);
    expect(partialMatchKey(key, [['post', 'byId', 'x']])).toBe(false);
  });
});
