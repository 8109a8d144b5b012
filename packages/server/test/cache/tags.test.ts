/**
 * Tag state: the key shapes (no collision with any namespace, scope,
 * `set()` key or other prefix; distinct tags never meet), guarded entries in the
 * codec, and what a failing backend does to guards (a miss, never a stale hit;
 * `invalidate()` rejects).
 */
import { randomUUID } from 'node:crypto';
import { initTRPC } from '@trpc/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { RedisBackend } from '../../src/backends/redis.js';
import type { CacheBackend } from '../../src/backends/types.js';
import { type CacheErrorEvent, createCache } from '../../src/cache/cache.js';
import { decodeEntry, encodeEntry } from '../../src/cache/codec.js';
import {
  EPOCH_STATE,
  namespacePart,
  plainKeyPart,
  prefixPart,
  rawInputKey,
  scopeSegment,
  stableKey,
  tagStateKey,
  userKeySegment,
} from '../../src/cache/key.js';
import { invalidate } from '../../src/middleware/invalidation.js';
import { memorize } from '../../src/middleware/memorize.js';
import { trickyString, typedValue } from '../helpers/arbitraries.js';
import { closedPort, patient } from '../helpers/redis-server.js';

describe('state keys', () => {
  const part = trickyString(8);
  const nonEmpty = trickyString(8, 1);

  it('meet no entry key, namespace, scope or set() key of any prefix, and each other only when equal (property)', () => {
    fc.assert(
      fc.property(
        nonEmpty,
        nonEmpty,
        nonEmpty,
        part,
        part,
        typedValue,
        fc.constantFrom<'tag' | 'epoch'>('tag', 'epoch'),
        (prefix, otherPrefix, namespace, scope, setKey, input, kind) => {
          const head = `${prefixPart(prefix)}:`;
          const state = head + (kind === 'tag' ? tagStateKey(setKey) : EPOCH_STATE);
          const namespaceHead = `${head}${namespacePart(namespace)}:`;
          // clear({ namespace }) is deleteByPrefix(namespaceHead): it never reaches state.
          expect(state.startsWith(namespaceHead)).toBe(false);
          // No entry, scoped entry or set()/get() key of this prefix or another is a state key.
          for (const entry of [
            namespaceHead + stableKey(input),
            namespaceHead + rawInputKey(input),
            namespaceHead + scopeSegment(scope) + userKeySegment(setKey),
            head + plainKeyPart(setKey),
            `${prefixPart(otherPrefix)}:${plainKeyPart(setKey)}`,
          ]) {
            expect(entry).not.toBe(state);
          }
          // Nor is the state of one prefix under another prefix's clear().
          if (otherPrefix !== prefix) expect(state.startsWith(`${prefixPart(otherPrefix)}:`)).toBe(false);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('map distinct tags to distinct keys (property)', () => {
    fc.assert(
      fc.property(nonEmpty, nonEmpty, (a, b) => {
        expect(tagStateKey(a) === tagStateKey(b)).toBe(a === b);
      }),
      { numRuns: 2_000 },
    );
    // Well-formed text whatever the tag: what Redis stores as UTF-8, byte for byte.
    expect(tagStateKey('a\uD800:b%')).toBe('%T:a%uD800:b%25');
  });
});

describe('guarded entries in the codec', () => {
  it('round-trip their tags and guards, and leave unguarded entries as they were', () => {
    const guarded = { tags: ['post:1', 'a\uD800,b c'], guards: [['%T:post:1', 'token\n1'] as const] };
    const raw = encodeEntry({ id: 1, at: new Date(5) }, 1234, guarded);
    expect(decodeEntry(raw)).toEqual({ value: { id: 1, at: new Date(5) }, expiresAt: 1234, guarded });
    expect(encodeEntry({ id: 1 }, undefined)).toBe('|J{"id":1}');
    expect(decodeEntry('|J{"id":1}')).toEqual({ value: { id: 1 }, expiresAt: undefined });
    expect(() => decodeEntry('|G[["t"],[["k"]]]\nJ1')).toThrow(/bad guards/);
    expect(() => decodeEntry('|G[[],[]]J1')).toThrow(/unterminated guards/);
  });
});

/** A backend whose every call fails, as a Redis that went away does once its queue is refused. */
function failing(): CacheBackend {
  const fail = () => Promise.reject(new Error('down'));
  return { name: 'down', get: fail, set: fail, delete: fail, deleteByPrefix: fail };
}

describe('a failing backend', () => {
  it('never serves a tagged entry it cannot check, and invalidate() rejects', async () => {
    const events: CacheErrorEvent[] = [];
    const memory = new MemoryBackend();
    let down = false;
    // Entries and tokens in memory; reads of tokens fail while `down`.
    const backend: CacheBackend = {
      name: 'flaky',
      get: (key) => (down && key.includes(':%T:') ? Promise.reject(new Error('down')) : memory.get(key)),
      set: (key, value, ttl) => memory.set(key, value, ttl),
      delete: (key) => memory.delete(key),
      deleteByPrefix: (prefix) => memory.deleteByPrefix(prefix),
    };
    const cache = createCache(backend, { prefix: 'flaky', onError: (event) => events.push(event) });
    const t = initTRPC.create();
    let runs = 0;
    const router = t.router({
      q: t.procedure.use(memorize({ expire: 60, cache, tags: ['t'] })).query(() => ++runs),
    });
    const c = t.createCallerFactory(router)({});
    expect(await c.q()).toBe(1);
    expect(await c.q()).toBe(1);
    down = true;
    // The token cannot be read: the entry cannot be vouched for, so the resolver runs,
    // and its result is not stored (nothing could invalidate it).
    expect(await c.q()).toBe(2);
    expect(await c.q()).toBe(3);
    expect(events.some((event) => event.operation === 'get' && event.key === 'flaky:%T:t')).toBe(true);
    down = false;
    expect(await c.q()).toBe(1);

    const dead = createCache(failing(), { prefix: 'dead', onError: () => {} });
    await expect(invalidate([{ tag: 't' }], { cache: dead })).rejects.toThrow('down');
    await expect(invalidate([{ path: 'q', input: 1 }], { cache: dead })).rejects.toThrow('down');
  });

  it('on a Redis that does not answer, a tagged procedure runs its resolver every time', async () => {
    const backend = new RedisBackend(`redis://127.0.0.1:${await closedPort()}`, {
      ...patient,
      commandTimeout: 0.2,
    });
    const cache = createCache(backend, { prefix: `gone-${randomUUID().slice(0, 8)}`, onError: () => {} });
    try {
      const t = initTRPC.create();
      let runs = 0;
      const router = t.router({
        q: t.procedure
          .use(memorize({ expire: 60, cache, tags: ({ data }) => [`n:${data}`] }))
          .query(() => ++runs),
      });
      const c = t.createCallerFactory(router)({});
      expect([await c.q(), await c.q()]).toEqual([1, 2]);
    } finally {
      await backend.close();
    }
  });
});
