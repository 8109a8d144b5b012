import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyHash as keyHashPortable } from '../../src/cache/key-hash.js';
import { keyHash as keyHashNode } from '../../src/cache/key-hash-node.js';
import { sha256, sha256Base64url } from '../../src/cache/sha256.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** UTF-8 with lone surrogates as their 3-byte form (WTF-8), written independently of the code under test. */
function wtf8(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const cp = text.codePointAt(i)!;
    if (cp > 0xffff) i++;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return Buffer.from(out);
}

describe('sha256', () => {
  it('matches the FIPS 180-2 test vectors', () => {
    expect(hex(sha256(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(sha256('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hex(sha256('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    expect(
      hex(
        sha256(
          'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
        ),
      ),
    ).toBe('cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1');
    expect(hex(sha256('a'.repeat(1_000_000)))).toBe(
      'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
    );
  });

  it('agrees with node:crypto at every padding boundary', () => {
    for (let length = 0; length <= 200; length++) {
      const text = 'é'.repeat(length % 7) + 'x'.repeat(length);
      expect(sha256Base64url(text)).toBe(createHash('sha256').update(text).digest('base64url'));
    }
  });

  it('property: agrees with node:crypto on random well-formed text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        expect(sha256Base64url(text)).toBe(createHash('sha256').update(text, 'utf8').digest('base64url'));
      }),
      { numRuns: 2_000 },
    );
  });

  it('property: hashes any UTF-16 text over its exact bytes, lone surrogates included', () => {
    const units = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
    fc.assert(
      fc.property(fc.string({ unit: units, maxLength: 200 }), (text) => {
        expect(hex(sha256(text))).toBe(createHash('sha256').update(wtf8(text)).digest('hex'));
      }),
      { numRuns: 2_000 },
    );
  });

  it('keeps apart what UTF-8 encoders merge into U+FFFD', () => {
    // node:crypto's update(string) hashes both alike: the collision this hash exists to avoid.
    expect(createHash('sha256').update('u\uD800').digest('hex')).toBe(
      createHash('sha256').update('u\uFFFD').digest('hex'),
    );
    expect(sha256Base64url('u\uD800')).not.toBe(sha256Base64url('u\uFFFD'));
    expect(sha256Base64url('u\uD800')).not.toBe(sha256Base64url('u\uDC00'));
    expect(sha256Base64url('\uD83D\uDE00')).toBe(createHash('sha256').update('😀').digest('base64url'));
  });

  it("property: Node's key hash (node:crypto) and the portable one give the same digest for any UTF-16 text", () => {
    const units = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
    const text = fc.oneof(
      fc.string({ unit: units, maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
    );
    fc.assert(
      fc.property(text, (value) => {
        expect(keyHashNode(value)).toBe(keyHashPortable(value));
      }),
      { numRuns: 3_000 },
    );
    // Lone surrogates never reach node:crypto, whose UTF-8 would turn them into U+FFFD.
    expect(keyHashNode('u\uD800')).not.toBe(keyHashNode('u\uFFFD'));
  });
});
