/**
 * SHA-256 in plain JavaScript, for hashing long key parts. The main entry must run
 * where no Node built-in can be imported (edge and worker runtimes), and Web
 * Crypto's `digest` is asynchronous, which would put a promise on every hit.
 *
 * The text is hashed over its UTF-8 bytes. A lone surrogate, which UTF-8 cannot
 * carry, is written as its 3-byte generalized form (WTF-8) instead of being
 * replaced by U+FFFD as `TextEncoder` and Node's `hash.update(string)` do: two
 * strings hash alike only if they are the same string. Key parts are escaped to
 * well-formed text before they get here, so in practice the bytes are plain UTF-8.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const INITIAL = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const W = new Int32Array(64);
const H = new Int32Array(8);
const ALPHABET = Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', (c) =>
  c.charCodeAt(0),
);
const CODES: number[] = new Array(43).fill(0);

/** Reused between calls (hashing is synchronous); grown on demand up to {@link KEPT_BYTES}. */
let scratch = new Uint8Array(1024);
/** Larger texts (longer than any key) get a buffer of their own, not kept. */
const KEPT_BYTES = 256 * 1024;

/** `text` as (generalized) UTF-8 in a buffer with room for the padding, and its byte length. */
function encode(text: string): [Uint8Array, number] {
  // 3 bytes per UTF-16 unit at most, plus room for the padding (up to 72 bytes).
  const needed = text.length * 3 + 72;
  if (scratch.length < needed) {
    if (needed > KEPT_BYTES) {
      const own = new Uint8Array(needed);
      return [own, write(text, own)];
    }
    scratch = new Uint8Array(Math.max(needed, Math.min(scratch.length * 2, KEPT_BYTES)));
  }
  return [scratch, write(text, scratch)];
}

function write(text: string, out: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
          i++;
          out[n++] = 0xf0 | (c >> 18);
          out[n++] = 0x80 | ((c >> 12) & 0x3f);
          out[n++] = 0x80 | ((c >> 6) & 0x3f);
          out[n++] = 0x80 | (c & 0x3f);
          continue;
        }
      }
      // Any other unit, a lone surrogate included, in three bytes.
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return n;
}

function compress(data: Uint8Array, end: number): void {
  let h0 = H[0]!;
  let h1 = H[1]!;
  let h2 = H[2]!;
  let h3 = H[3]!;
  let h4 = H[4]!;
  let h5 = H[5]!;
  let h6 = H[6]!;
  let h7 = H[7]!;
  for (let offset = 0; offset < end; offset += 64) {
    for (let i = 0; i < 16; i++) {
      const j = offset + i * 4;
      W[i] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const w15 = W[i - 15]!;
      const w2 = W[i - 2]!;
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      W[i] = (((((W[i - 16]! + s0) | 0) + W[i - 7]!) | 0) + s1) | 0;
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let f = h5;
    let g = h6;
    let h = h7;
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (((((((h + s1) | 0) + ((e & f) ^ (~e & g))) | 0) + K[i]!) | 0) + W[i]!) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  H[0] = h0;
  H[1] = h1;
  H[2] = h2;
  H[3] = h3;
  H[4] = h4;
  H[5] = h5;
  H[6] = h6;
  H[7] = h7;
}

/** The SHA-256 digest of `text`'s bytes, as 32 bytes. */
export function sha256(text: string): Uint8Array {
  const [data, length] = encode(text);
  // Padding: 0x80, zeros up to 56 mod 64, then the bit length as a big-endian 64-bit number.
  let end = length;
  data[end++] = 0x80;
  while (end % 64 !== 56) data[end++] = 0;
  const bits = length * 8;
  const high = Math.floor(bits / 0x100000000);
  data[end++] = high >>> 24;
  data[end++] = (high >>> 16) & 0xff;
  data[end++] = (high >>> 8) & 0xff;
  data[end++] = high & 0xff;
  data[end++] = bits >>> 24;
  data[end++] = (bits >>> 16) & 0xff;
  data[end++] = (bits >>> 8) & 0xff;
  data[end++] = bits & 0xff;
  H.set(INITIAL);
  compress(data, end);
  const digest = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const word = H[i]!;
    digest[i * 4] = word >>> 24;
    digest[i * 4 + 1] = (word >>> 16) & 0xff;
    digest[i * 4 + 2] = (word >>> 8) & 0xff;
    digest[i * 4 + 3] = word & 0xff;
  }
  return digest;
}

/**
 * The SHA-256 digest of `text` in unpadded base64url: 43 characters of
 * `A–Z a–z 0–9 - _`, safe in any key.
 */
export function sha256Base64url(text: string): string {
  const digest = sha256(text);
  const codes = CODES;
  let j = 0;
  for (let i = 0; i < 30; i += 3) {
    const n = (digest[i]! << 16) | (digest[i + 1]! << 8) | digest[i + 2]!;
    codes[j++] = ALPHABET[n >>> 18]!;
    codes[j++] = ALPHABET[(n >>> 12) & 63]!;
    codes[j++] = ALPHABET[(n >>> 6) & 63]!;
    codes[j++] = ALPHABET[n & 63]!;
  }
  const n = (digest[30]! << 8) | digest[31]!;
  codes[j++] = ALPHABET[n >>> 10]!;
  codes[j++] = ALPHABET[(n >>> 4) & 63]!;
  codes[j] = ALPHABET[(n << 2) & 63]!;
  return String.fromCharCode.apply(null, codes);
}
