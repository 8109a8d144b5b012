/**
 * @internal The hash of long key parts everywhere but Node (package.json's
 * `#key-hash` import picks by export condition): SHA-256 in plain JavaScript,
 * since no Node built-in can be imported there and Web Crypto's `digest` is
 * asynchronous.
 */
export { sha256Base64url as keyHash } from './sha256.js';
