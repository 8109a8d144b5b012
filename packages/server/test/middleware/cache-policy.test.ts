import { initTRPC } from '@trpc/server';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CacheManager,
  cachePolicy,
  createCache,
  invalidates,
  MemoryBackend,
  memorize,
} from '../../src/index.js';

const t = initTRPC.create();
const id = z.object({ id: z.string() });

afterEach(() => {
  CacheManager.reset();
});

describe('cachePolicy(router)', () => {
  it("lists every memorized query with its expire and every mutation's static invalidates, by dotted path", () => {
    const own = createCache(new MemoryBackend(), { expire: 42 });
    const router = t.router({
      post: t.router({
        byId: t.procedure
          .input(id)
          .use(memorize({ expire: 60 }))
          .query(() => 1),
        // memorize before .input() is found as well
        list: t.procedure
          .use(memorize({ expire: 30, namespace: 'posts' }))
          .input(id)
          .query(() => 1),
        ownCache: t.procedure.use(memorize({ cache: own })).query(() => 1),
        create: t.procedure
          .input(id)
          .use(invalidates(['post.byId', 'post.list']))
          .mutation(() => 1),
        computed: t.procedure.use(invalidates(() => ['post.byId'])).mutation(() => 1),
      }),
      plain: t.procedure.query(() => 1),
    });
    const policy = cachePolicy(router);
    expect(policy).toEqual({
      'post.byId': { expire: 60 },
      'post.list': { expire: 30 },
      'post.ownCache': { expire: 42 },
      'post.create': { invalidates: ['post.byId', 'post.list'] },
    });
    // Plain JSON, so it can be embedded in a page or written to a file for the client.
    expect(JSON.parse(JSON.stringify(policy))).toEqual(policy);
  });

  it('lists fixed tags (or computed), and static input and tag targets', () => {
    const router = t.router({
      a: t.procedure.use(memorize({ expire: 5, tags: ['x', 'y'] })).query(() => 1),
      b: t.procedure.use(memorize({ expire: 5, tags: () => ['z'] })).query(() => 1),
      m: t.procedure
        .use(invalidates(['a', { path: 'b', input: { id: '1' } }, { path: 'b' }, { tag: 'x' }]))
        .mutation(() => 1),
    });
    const policy = cachePolicy(router);
    expect(policy).toEqual({
      a: { expire: 5, tags: ['x', 'y'] },
      b: { expire: 5, tags: 'computed' },
      m: { invalidates: ['a', { path: 'b', input: { id: '1' } }, { path: 'b' }, { tag: 'x' }] },
    });
    expect(JSON.parse(JSON.stringify(policy))).toEqual(policy);
  });

  it("leaves an input target's scope out (a browser holds one user's queries), once per input", () => {
    const router = t.router({
      m: t.procedure
        .use(
          invalidates([
            { path: 'b', input: { id: '1' }, scope: 'u1' },
            { path: 'b', input: { id: '1' }, scope: 'u2' },
            { path: 'b', input: { id: '2' }, scope: 'u1' },
          ]),
        )
        .mutation(() => 1),
    });
    expect(cachePolicy(router)).toEqual({
      m: {
        invalidates: [
          { path: 'b', input: { id: '1' } },
          { path: 'b', input: { id: '2' } },
        ],
      },
    });
  });

  it("takes the global cache's default expire, and omits expire when results never expire", () => {
    const router = t.router({ a: t.procedure.use(memorize()).query(() => 1) });
    expect(cachePolicy(router)).toEqual({ a: {} });
    CacheManager.init(new MemoryBackend(), { expire: 15 });
    expect(cachePolicy(router)).toEqual({ a: { expire: 15 } });
  });

  it('unions the paths of several invalidates() on one mutation', () => {
    const router = t.router({
      m: t.procedure
        .use(invalidates(['a', 'b']))
        .use(invalidates(['b', 'c']))
        .mutation(() => 1),
    });
    expect(cachePolicy(router)).toEqual({ m: { invalidates: ['a', 'b', 'c'] } });
  });

  it('is empty for a router without trpc-memory middleware', () => {
    expect(cachePolicy(t.router({ a: t.procedure.query(() => 1) }))).toEqual({});
  });
});
