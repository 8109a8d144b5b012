import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { QueryClient } from '@tanstack/react-query';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CacheHints, registryOf } from '../src/hints.js';
import { createMemoHooks, mirrorServerTtl } from '../src/index.js';
import {
  parseList,
  parseSeconds,
  parseServerTtlMeta,
  parseSource,
  parseTags,
  parseTargets,
} from '../src/protocol.js';
import { callId, parseQueryKey, queryKeyOf } from '../src/query-key.js';

describe('reading the hint headers', () => {
  it('splits a list header into entries; an absent header is undefined', () => {
    expect(parseList('0.500, -, inf')).toEqual(['0.500', '-', 'inf']);
    expect(parseList(null)).toBeUndefined();
  });

  it('reads seconds as milliseconds, inf as Infinity, and anything else as "nothing"', () => {
    expect(parseSeconds('12.345')).toBe(12_345);
    expect(parseSeconds('inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseSeconds('-')).toBeNull();
    expect(parseSeconds('soon')).toBeNull();
    expect(parseSeconds('-3')).toBeNull();
  });

  it('reads hit and miss, and anything else as "not said"', () => {
    expect(parseSource('hit')).toBe('hit');
    expect(parseSource('miss')).toBe('miss');
    expect(parseSource('-')).toBeUndefined();
    expect(parseSource('stale')).toBe('stale');
    expect(parseSource('fresh')).toBeUndefined();
    expect(parseSource(undefined)).toBeUndefined();
  });

  it('reads space-separated, URI-encoded paths', () => {
    expect(parseTargets('post.byId post.list')).toEqual([
      { kind: 'path', path: 'post.byId' },
      { kind: 'path', path: 'post.list' },
    ]);
    expect(parseTargets('odd%20name')).toEqual([{ kind: 'path', path: 'odd name' }]);
    expect(parseTargets('-')).toEqual([]);
  });

  it('reads input and tag targets, and skips what it cannot read', () => {
    const input = encodeURIComponent(JSON.stringify({ id: '1 2' }));
    const tag = encodeURIComponent(JSON.stringify('post:1 \ud800'));
    expect(parseTargets(`input=post.byId=${input} input=me tag=${tag} later=x %E0%A4%A`)).toEqual([
      { kind: 'input', path: 'post.byId', input: { id: '1 2' } },
      { kind: 'input', path: 'me', input: undefined },
      { kind: 'tag', tag: 'post:1 \ud800' },
    ]);
    expect(parseTags(`${tag} ${encodeURIComponent('"a,b"')}`)).toEqual(['post:1 \ud800', 'a,b']);
    expect(parseTags('-')).toEqual([]);
    expect(parseTags('*')).toBe('*');
    expect(parseTags('%22unterminated')).toBeUndefined();
  });
});

describe("reading a server-rendered query's report", () => {
  const report = { source: 'miss', expiresIn: 60_000, renderedAt: 1_000 } as const;

  it('reads the tags of the entry: listed, none, "*" for too many', () => {
    expect(parseServerTtlMeta({ ...report, tags: ['post:1', 'a b,c', '\ud800'] })).toEqual({
      ...report,
      tags: ['post:1', 'a b,c', '\ud800'],
    });
    expect(parseServerTtlMeta({ ...report, tags: [] })?.tags).toEqual([]);
    expect(parseServerTtlMeta({ ...report, tags: '*' })?.tags).toBe('*');
  });

  it('takes absent tags (a server that predates them) and null for unknown, and keeps the rest', () => {
    expect(parseServerTtlMeta(report)).toEqual({ ...report, tags: null });
    expect(parseServerTtlMeta({ ...report, tags: null })).toEqual({ ...report, tags: null });
  });

  it('reads tags it cannot read as unknown, the rest as before', () => {
    const longest = 'a'.repeat(1994); // `%22` + 1994 letters + `%22`: the longest entry the server lists
    for (const tags of [
      'post:1',
      '-',
      1,
      {},
      { length: 1, 0: 'post:1' },
      [1],
      ['post:1', null],
      [['post:1']],
      new Array(2),
      [`${longest}a`],
      [longest, 'b'],
      Array.from({ length: 286 }, () => ''),
    ])
      expect(parseServerTtlMeta({ ...report, tags })).toEqual({ ...report, tags: null });
    expect(parseServerTtlMeta({ ...report, tags: [longest] })?.tags).toEqual([longest]);
  });

  it('turns down a huge array by its length, without reading its items', () => {
    let reads = 0;
    const huge: unknown[] = new Array(10_000_000);
    Object.defineProperty(huge, 0, {
      get() {
        reads++;
        return 'post:1';
      },
    });
    expect(parseServerTtlMeta({ ...report, tags: huge })?.tags).toBeNull();
    expect(reads).toBe(0);
  });

  it('never throws, and reads tags only as "*" or the very strings given (property)', () => {
    fc.assert(
      fc.property(fc.anything({ withSparseArray: true, withBoxedValues: true }), (tags) => {
        const read = parseServerTtlMeta({ ...report, tags });
        expect(read).toMatchObject(report);
        if (read?.tags === '*') expect(tags).toBe('*');
        else if (read?.tags !== null) {
          expect(Array.isArray(tags) && tags.every((tag) => typeof tag === 'string')).toBe(true);
          expect(read?.tags).toEqual(tags);
        }
      }),
    );
    fc.assert(
      // At most 6 × (30 units × 9 characters + 6) + 5 characters: within the limit, all read.
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 30 }), { maxLength: 6 }), (tags) => {
        expect(parseServerTtlMeta({ ...report, tags })?.tags).toEqual(tags);
      }),
    );
  });
});

describe('tRPC query keys', () => {
  it('builds and parses the @trpc/tanstack-react-query format, with or without a prefix', () => {
    expect(queryKeyOf('post.byId', { id: '1' })).toEqual([
      ['post', 'byId'],
      { input: { id: '1' }, type: 'query' },
    ]);
    expect(queryKeyOf('post.list', undefined)).toEqual([['post', 'list'], { type: 'query' }]);
    expect(parseQueryKey([['post', 'byId'], { input: { id: '1' }, type: 'query' }])).toEqual({
      path: 'post.byId',
      input: { id: '1' },
      type: 'query',
    });
    expect(parseQueryKey([['app'], ['post', 'list'], { type: 'infinite' }])).toEqual({
      path: 'post.list',
      input: undefined,
      type: 'infinite',
    });
  });

  it('rejects keys of other shapes', () => {
    expect(parseQueryKey(['todos'])).toBeUndefined();
    expect(parseQueryKey([['post'], { type: 'any' }])).toBeUndefined();
    expect(parseQueryKey([['post'], 'query'])).toBeUndefined();
    expect(parseQueryKey([[], { type: 'query' }])).toBeUndefined();
  });

  it('identifies a call by path and input, whatever the order of object keys', () => {
    expect(callId('a', { x: 1, y: { b: 2, a: 1 } })).toBe(callId('a', { y: { a: 1, b: 2 }, x: 1 }));
    expect(callId('a', { x: 1 })).not.toBe(callId('b', { x: 1 }));
    expect(callId('a', { x: 10n })).toBeUndefined();
  });
});

describe('the hint registry', () => {
  it('serves the newest hint that arrived before the data', () => {
    const hints = new CacheHints();
    registryOf(hints).record('a', 1, {
      receivedAt: 100,
      staleAt: 600,
      source: 'miss',
      exact: true,
      tags: [],
    });
    registryOf(hints).record('a', 1, {
      receivedAt: 200,
      staleAt: 900,
      source: 'hit',
      exact: true,
      tags: ['t'],
    });
    expect(registryOf(hints).lookup('a', 1, 150)?.staleAt).toBe(600);
    expect(registryOf(hints).lookup('a', 1, 250)).toEqual({
      receivedAt: 200,
      staleAt: 900,
      source: 'hit',
      exact: true,
      tags: ['t'],
    });
    expect(registryOf(hints).lookup('a', 1, 50)).toBeUndefined();
    expect(registryOf(hints).lookup('a', 2, 250)).toBeUndefined();
  });

  it('holds its listeners weakly and tells the live ones about mutations', () => {
    const hints = new CacheHints();
    const seen: string[] = [];
    const target = {};
    const stop = registryOf(hints).onMutation(target, (_target, notice) => seen.push(notice.path));
    registryOf(hints).mutated({ path: 'post.update', invalidated: [] });
    stop();
    registryOf(hints).mutated({ path: 'post.remove', invalidated: [] });
    expect(seen).toEqual(['post.update']);
  });

  it('does not keep a forgotten mirrored QueryClient alive', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const hints = new CacheHints();
    const forgotten = (() => {
      const queryClient = new QueryClient();
      mirrorServerTtl(queryClient, { hints });
      return new WeakRef(queryClient);
    })();
    for (let round = 0; round < 10 && forgotten.deref() !== undefined; round++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      gc();
    }
    expect(forgotten.deref()).toBeUndefined();
  });
});

describe('mistakes', () => {
  it('mirrorServerTtl names the bad option', () => {
    expect(() => mirrorServerTtl({} as never)).toThrow(/first argument must be a QueryClient/);
  });

  it('createMemoHooks needs a tRPC client', () => {
    expect(() => createMemoHooks({ client: {} as never })).toThrow(
      /option "client" must be a client made by createTRPCClient/,
    );
  });

  it('createMemoHooks names the missing client instead of failing inside tRPC', () => {
    expect(() => createMemoHooks({} as never)).toThrow(/option "client" must be a client .*got undefined/);
    expect(() => createMemoHooks({ client: null } as never)).toThrow(/got null/);
    expect(() => createMemoHooks(undefined as never)).toThrow(/option "client" must be a client/);
  });
});
