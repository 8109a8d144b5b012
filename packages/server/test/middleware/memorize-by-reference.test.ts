import { randomUUID } from 'node:crypto';
import { initTRPC } from '@trpc/server';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { MemoryBackend } from '../../src/backends/memory.js';
import { RedisBackend } from '../../src/backends/redis.js';
import type { CacheBackend } from '../../src/backends/types.js';
import { createCache } from '../../src/cache/cache.js';
import { InvalidOptionError } from '../../src/errors.js';
import { memorize } from '../../src/middleware/memorize.js';
import { memorizeFn } from '../../src/middleware/memorize-fn.js';
import { patient } from '../helpers/redis-server.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function post(id: string) {
  return {
    id,
    author: { id: 42, name: 'Ada' },
    tags: ['a', 'b'],
    comments: [
      { id: 1, text: 'x' },
      { id: 2, text: 'y' },
    ],
  };
}
type Post = ReturnType<typeof post>;

const backends: [string, () => CacheBackend][] = [
  ['MemoryBackend', () => new MemoryBackend()],
  ['RedisBackend', () => new RedisBackend(REDIS_URL, patient)],
];

describe.each(backends)('memorize({ byReference: true }) on %s', (_, makeBackend) => {
  const backend = makeBackend();
  afterAll(() => backend.close?.());

  function setup(byReference: boolean) {
    const cache = createCache(backend, { prefix: `by-ref-${randomUUID().slice(0, 8)}` });
    const t = initTRPC.create();
    let runs = 0;
    const router = t.router({
      post: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: 60, cache, byReference }))
        .query(({ input }) => {
          runs++;
          return post(input.id);
        }),
      at: t.procedure.use(memorize({ expire: 60, cache, byReference })).query(() => ({ at: new Date(7) })),
    });
    return { caller: t.createCallerFactory(router)({}), runs: () => runs };
  }

  it('hands every caller, the first one too, the same deep-frozen value; a mutation throws and reaches no one', async () => {
    const { caller, runs } = setup(true);
    const first = await caller.post({ id: '1' });
    const second = await caller.post({ id: '1' });
    const third = await caller.post({ id: '1' });
    expect(runs()).toBe(1);
    expect(first).toEqual(post('1'));
    expect(second).toBe(third);
    for (const value of [first, second]) {
      expect(() => {
        (value as Post).author.name = 'Eve';
      }).toThrow(TypeError);
      expect(() => (value as Post).comments.push({ id: 3, text: 'z' })).toThrow(TypeError);
      expect(() => {
        delete (value as Partial<Post>).id;
      }).toThrow(TypeError);
    }
    expect(await caller.post({ id: '1' })).toEqual(post('1'));
    expect(await caller.post({ id: '2' })).toEqual(post('2'));
  });

  it('without it, every caller gets its own mutable copy, and one caller’s mutation reaches no other', async () => {
    const { caller } = setup(false);
    const first = await caller.post({ id: '1' });
    const copies = [];
    for (let i = 0; i < 40; i++) copies.push(await caller.post({ id: '1' })); // past the compiled-copier thresholds
    for (const copy of [first, ...copies]) {
      copy.author.name = 'Eve';
      copy.comments.push({ id: 3, text: 'z' });
      copy.tags[0] = 'mutated';
    }
    const later = await caller.post({ id: '1' });
    expect(later).toEqual(post('1'));
    expect(new Set([first, ...copies, later]).size).toBe(copies.length + 2);
  });

  it('decodes a value holding a Date per call (never shared), frozen', async () => {
    const { caller } = setup(true);
    await caller.at();
    const a = await caller.at();
    const b = await caller.at();
    expect(a).toEqual({ at: new Date(7) });
    expect(b).not.toBe(a);
    expect(b.at).not.toBe(a.at);
    expect(Object.isFrozen(b)).toBe(true);
  });
});

describe('byReference option', () => {
  it('memorizeFn shares one frozen value between calls', async () => {
    const cache = createCache(new MemoryBackend(), { prefix: 'by-ref-fn' });
    const load = memorizeFn({ cache, byReference: true })(async function load(id: string) {
      return { id, rows: [1, 2] };
    });
    const first = await load('a');
    expect(await load('a')).toBe(first);
    expect(() => first.rows.push(3)).toThrow(TypeError);
  });

  it('serves a stale entry within staleWhileRevalidate as the same frozen value, then the refreshed one', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(0);
      const cache = createCache(new MemoryBackend(), { prefix: 'by-ref-grace' });
      let version = 0;
      const load = memorizeFn({ cache, expire: 10, staleWhileRevalidate: 60, byReference: true })(
        async function versioned() {
          version++;
          return { version };
        },
      );
      const fresh = await load();
      vi.setSystemTime(10_000); // the entry expires exactly now
      const stale = await load();
      expect(stale).toBe(fresh);
      expect(Object.isFrozen(stale)).toBe(true);
      await vi.waitFor(async () => expect(await load()).toEqual({ version: 2 }));
      expect(Object.isFrozen(await load())).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('is refused at construction time when not a boolean', () => {
    expect(() => memorize({ byReference: 'yes' as unknown as boolean })).toThrow(InvalidOptionError);
    expect(() => memorizeFn({ byReference: 1 as unknown as boolean })).toThrow(InvalidOptionError);
  });
});
