import { initTRPC, TRPCError } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  CacheManager,
  cacheHeaders,
  createCache,
  invalidates,
  MemoryBackend,
  memorize,
} from '../../src/index.js';
import { gate, untilJoined, type WatchedBackend, watchReads } from '../helpers/in-flight.js';
import { freezeTime, T0 } from '../helpers/time.js';
import { entries, type Served, serve } from './serve.js';

interface Ctx {
  user: string | null;
}
const t = initTRPC.context<Ctx>().create();
const id = z.object({ id: z.string() });
const forever = createCache(new MemoryBackend(), { prefix: 'forever' });
const quiet = createCache(new MemoryBackend(), { prefix: 'quiet', onError: () => {} });
class Money {
  constructor(readonly cents: number) {}
}
/** What `slowly` waits on, and the calls that reached its memorize. */
let slowlyHeld = gate();
let slowlyArrived = 0;
let slowlyRuns = 0;

const appRouter = t.router({
  fast: t.procedure
    .input(id)
    .use(memorize({ expire: 3 }))
    .query(({ input }) => ({ id: input.id })),
  slow: t.procedure
    .input(id)
    .use(memorize({ expire: 5 }))
    .query(({ input }) => ({ id: input.id })),
  slower: t.procedure
    .input(id)
    .use(memorize({ expire: 9 }))
    .query(({ input }) => ({ id: input.id })),
  mine: t.procedure
    .input(id)
    .use(memorize({ expire: 5, scope: (ctx: Ctx) => ctx.user }))
    .query(({ input, ctx }) => ({ id: input.id, user: ctx.user })),
  eternal: t.procedure
    .input(id)
    .use(memorize({ cache: forever }))
    .query(({ input }) => input.id),
  plain: t.procedure.input(id).query(({ input }) => input.id),
  unstorable: t.procedure
    .input(id)
    .use(memorize({ expire: 5, cache: quiet }))
    .query(() => new Money(5)),
  slowly: t.procedure
    .input(id)
    .use(({ next }) => {
      slowlyArrived++;
      return next();
    })
    .use(memorize({ expire: 5 }))
    .query(async ({ input }) => {
      slowlyRuns++;
      await slowlyHeld.opened;
      return input.id;
    }),
  broken: t.procedure
    .input(id)
    .use(memorize({ expire: 5 }))
    .query(() => {
      throw new TRPCError({ code: 'NOT_FOUND' });
    }),
  save: t.procedure
    .input(id)
    .use(invalidates(['fast', 'slow']))
    .mutation(({ input }) => input.id),
  tagged: t.procedure
    .input(id)
    .use(memorize({ expire: 5, tags: ({ input }) => [`post:${(input as { id: string }).id}`, 'all posts'] }))
    .query(({ input }) => input.id),
  touch: t.procedure
    .input(id)
    .use(
      invalidates<Ctx, { id: string }>(({ input }) => [
        'plain',
        { path: 'fast', input: { id: input.id } },
        // A scope travels to no browser: this one reads as the target above.
        { path: 'fast', input: { id: input.id }, scope: 'token-of-user-7' },
        { tag: `post:${input.id}` },
      ]),
    )
    .mutation(({ input }) => input.id),
});

let server: Served;
let n = 0;
/** A fresh input, so no test sees another's cache entries. */
const fresh = () => ({ id: `${++n}-${Math.random()}` });

beforeAll(async () => {
  server = await serve(appRouter, cacheHeaders());
});
let backend: WatchedBackend;
// Date frozen at T0: every TTL a header reports is exact. The entries' real expiry
// (MemoryBackend's own clock) is seconds away, far beyond any test's requests.
beforeEach(() => {
  freezeTime();
  backend = watchReads(new MemoryBackend());
  CacheManager.init(backend);
});
afterEach(() => {
  vi.useRealTimers();
});
afterAll(() => server.close());

describe('cacheHeaders(): per-call TTL report', () => {
  it('reports the remaining TTL of a fresh miss and of a later hit, per call in batch order', async () => {
    const a = fresh();
    const first = await server.batch([
      ['fast', a],
      ['plain', a],
      ['slow', a],
    ]);
    expect(first.status).toBe(200);
    // A fresh miss: the full expire.
    expect(entries(first, 'trpc-memory-ttl')).toEqual(['3.000', '-', '5.000']);

    vi.setSystemTime(T0 + 150);
    const hit = await server.batch([
      ['slow', a],
      ['fast', a],
    ]);
    // A hit reports what its entry has left, not the full expire.
    expect(entries(hit, 'trpc-memory-ttl')).toEqual(['4.850', '2.850']);
    vi.setSystemTime(T0 + 2_999);
    expect(entries(await server.batch([['fast', a]]), 'trpc-memory-ttl')).toEqual(['0.001']);
    // Expired: a miss again, with the full expire.
    vi.setSystemTime(T0 + 3_000);
    const again = await server.batch([['fast', a]]);
    expect(entries(again, 'trpc-memory-cache')).toEqual(['miss']);
    expect(entries(again, 'trpc-memory-ttl')).toEqual(['3.000']);
  });

  it('reports "inf" for an entry without expiry and sends no max-age for it', async () => {
    const response = await server.batch([['eternal', fresh()]]);
    expect(entries(response, 'trpc-memory-ttl')).toEqual(['inf']);
    expect(response.headers.get('cache-control')).toBeNull();
  });

  it('reports "-" for a memorized call that failed, and for a scope that opts out of caching', async () => {
    const response = await server.batch([
      ['broken', fresh()],
      ['mine', fresh()],
    ]);
    expect(entries(response, 'trpc-memory-ttl')).toEqual(['-', '-']);
    expect(response.headers.get('cache-control')).toBeNull();
  });
});

describe('cacheHeaders(): per-call hit or miss', () => {
  it('reports a miss, then a hit, per call in batch order, with "-" for a call not memorized', async () => {
    const a = fresh();
    const first = await server.batch([
      ['fast', a],
      ['plain', a],
      ['slow', a],
    ]);
    expect(entries(first, 'trpc-memory-cache')).toEqual(['miss', '-', 'miss']);
    const second = await server.batch([
      ['slow', a],
      ['plain', a],
      ['fast', fresh()],
      ['fast', a],
    ]);
    expect(entries(second, 'trpc-memory-cache')).toEqual(['hit', '-', 'miss', 'hit']);
  });

  it('is absent when no call of the response was memorized or every one failed', async () => {
    const response = await server.batch([
      ['plain', fresh()],
      ['broken', fresh()],
      ['mine', fresh()],
    ]);
    expect(response.headers.get('trpc-memory-cache')).toBeNull();
    expect(entries(response, 'trpc-memory-ttl')).toEqual(['-', '-', '-']);
  });

  it('reports a miss whose result could not be stored with no TTL and no Cache-Control', async () => {
    const input = fresh();
    for (let i = 0; i < 2; i++) {
      const response = await server.batch([['unstorable', input]]);
      expect(entries(response, 'trpc-memory-cache')).toEqual(['miss']);
      expect(entries(response, 'trpc-memory-ttl')).toEqual(['-']);
      expect(response.headers.get('cache-control')).toBeNull();
    }
  });

  it('reports a request that waited for a concurrent computation as a hit', async () => {
    const input = fresh();
    slowlyHeld = gate();
    const [arrived, runs] = [slowlyArrived, slowlyRuns];
    const requests = Promise.all([server.batch([['slowly', input]]), server.batch([['slowly', input]])]);
    await untilJoined(
      backend,
      () => slowlyArrived - arrived,
      2,
      () => slowlyRuns - runs,
    );
    slowlyHeld.open();
    const responses = await requests;
    expect(responses.map((response) => entries(response, 'trpc-memory-cache')?.[0]).sort()).toEqual([
      'hit',
      'miss',
    ]);
    expect(responses.map((response) => entries(response, 'trpc-memory-ttl'))).toEqual([['5.000'], ['5.000']]);
    expect(slowlyRuns - runs).toBe(1);
  });
});

describe('cacheHeaders(): Cache-Control', () => {
  it('is public with the smallest remaining TTL in whole seconds when every call is a public memorized query', async () => {
    const response = await server.batch([
      ['slower', fresh()],
      ['slow', fresh()],
    ]);
    expect(response.headers.get('cache-control')).toBe('public, max-age=5');
  });

  it('counts max-age in whole seconds left, rounded down', async () => {
    const input = fresh();
    await server.batch([['slow', input]]);
    vi.setSystemTime(T0 + 1);
    expect((await server.batch([['slow', input]])).headers.get('cache-control')).toBe('public, max-age=4');
    vi.setSystemTime(T0 + 4_001);
    expect((await server.batch([['slow', input]])).headers.get('cache-control')).toBe('public, max-age=0');
  });

  it('is private when one of the calls is scoped', async () => {
    const response = await server.batch(
      [
        ['slow', fresh()],
        ['mine', fresh()],
      ],
      { 'x-user': 'ann' },
    );
    expect(response.headers.get('cache-control')).toBe('private, max-age=5');
  });

  it('is absent when one call is not memorized, failed, or is a mutation', async () => {
    const mixed = await server.batch([
      ['slow', fresh()],
      ['plain', fresh()],
    ]);
    expect(mixed.headers.get('cache-control')).toBeNull();
    const failed = await server.batch([
      ['slow', fresh()],
      ['broken', fresh()],
    ]);
    expect(failed.status).toBe(207);
    expect(failed.headers.get('cache-control')).toBeNull();
    const mutation = await server.mutate('save', fresh());
    expect(mutation.headers.get('cache-control')).toBeNull();
  });
});

describe('cacheHeaders(): invalidation report', () => {
  it('lists the paths a successful mutation invalidated', async () => {
    const response = await server.mutate('save', fresh());
    expect(response.status).toBe(200);
    expect(entries(response, 'trpc-memory-invalidates')).toEqual(['fast slow']);
    expect(entries(response, 'trpc-memory-ttl')).toEqual(['-']);
  });
});

describe('cacheHeaders(): tags and targets', () => {
  it("reports each result's tags (on a miss and on a hit), and a mutation's input and tag targets", async () => {
    const a = fresh();
    const encode = (tag: string) => encodeURIComponent(JSON.stringify(tag));
    const tags = `${encode(`post:${a.id}`)} ${encode('all posts')}`;
    for (let i = 0; i < 2; i++) {
      const response = await server.batch([
        ['tagged', a],
        ['plain', a],
        ['fast', a],
      ]);
      expect(entries(response, 'trpc-memory-tags')).toEqual([tags, '-', '-']);
      expect(entries(response, 'trpc-memory-cache')?.[0]).toBe(i === 0 ? 'miss' : 'hit');
    }
    const response = await server.mutate('touch', a);
    expect(entries(response, 'trpc-memory-invalidates')).toEqual([
      `plain input=fast=${encodeURIComponent(JSON.stringify({ id: a.id }))} tag=${encode(`post:${a.id}`)}`,
    ]);
    expect(response.headers.get('trpc-memory-invalidates')).not.toContain('token-of-user-7');
    // And the server dropped the tagged entry.
    const after = await server.batch([['tagged', a]]);
    expect(entries(after, 'trpc-memory-cache')).toEqual(['miss']);
  });
});

describe('cacheHeaders(): streamed responses (httpBatchStreamLink)', () => {
  it('sends only the static policy, before the calls run, and no Cache-Control', async () => {
    const response = await server.batch(
      [
        ['slow', fresh()],
        ['plain', fresh()],
        ['eternal', fresh()],
      ],
      { 'trpc-accept': 'application/jsonl' },
    );
    await response.text();
    expect(entries(response, 'trpc-memory-policy')).toEqual(['5.000', '-', 'inf']);
    expect(response.headers.get('trpc-memory-ttl')).toBeNull();
    expect(response.headers.get('trpc-memory-cache')).toBeNull();
    expect(response.headers.get('cache-control')).toBeNull();
  });

  it('sends the static invalidates paths of a streamed mutation', async () => {
    const response = await server.mutate('save', fresh(), { 'trpc-accept': 'application/jsonl' });
    await response.text();
    expect(entries(response, 'trpc-memory-invalidates')).toEqual(['fast slow']);
  });
});

describe('cacheHeaders(responseMeta): composing with the application', () => {
  it("keeps the app's status and headers, its own Cache-Control winning, each Set-Cookie kept", async () => {
    const headers = new Headers({ 'x-app': 'yes', 'cache-control': 'no-store' });
    headers.append('set-cookie', 'a=1');
    headers.append('set-cookie', 'b=2');
    const app = await serve(
      appRouter,
      cacheHeaders(() => ({ status: 203, headers })),
    );
    try {
      const response = await app.batch([['slow', fresh()]]);
      expect(response.status).toBe(203);
      expect(response.headers.get('x-app')).toBe('yes');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
      expect(entries(response, 'trpc-memory-ttl')).toEqual(['5.000']);
    } finally {
      await app.close();
    }
  });

  it('accepts the deprecated plain-object headers too, and sees the same options as the app', async () => {
    const seen: string[] = [];
    const app = await serve(
      appRouter,
      cacheHeaders(({ info, ctx }) => {
        seen.push(`${info?.calls.map((call) => call.path).join(',')}:${ctx?.user}`);
        return { headers: { 'x-plain': 'one', 'x-many': ['1', '2'] } };
      }),
    );
    try {
      const response = await app.batch([['slow', fresh()]], { 'x-user': 'bob' });
      expect(response.headers.get('x-plain')).toBe('one');
      expect(response.headers.get('x-many')).toBe('1, 2');
      expect(response.headers.get('cache-control')).toBe('public, max-age=5');
      expect(seen).toEqual(['slow:bob']);
    } finally {
      await app.close();
    }
  });
});

describe('cacheHeaders() with the fetch adapter', () => {
  it('reports per call in batch order through fetchRequestHandler', async () => {
    const input = { 0: fresh(), 1: fresh() };
    const handle = () =>
      fetchRequestHandler({
        endpoint: '/trpc',
        router: appRouter,
        createContext: () => ({ user: null }),
        responseMeta: cacheHeaders(),
        req: new Request(
          `http://127.0.0.1/trpc/slow,fast?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`,
        ),
      });
    const miss = await handle();
    expect(entries(miss, 'trpc-memory-ttl')).toEqual(['5.000', '3.000']);
    expect(miss.headers.get('cache-control')).toBe('public, max-age=3');
    expect(entries(miss, 'trpc-memory-cache')).toEqual(['miss', 'miss']);
    vi.setSystemTime(T0 + 2_500);
    const hit = await handle();
    expect(entries(hit, 'trpc-memory-cache')).toEqual(['hit', 'hit']);
    expect(entries(hit, 'trpc-memory-ttl')).toEqual(['2.500', '0.500']);
    // Less than a second left: shared caches may not keep it at all.
    expect(hit.headers.get('cache-control')).toBe('public, max-age=0');
  });
});

describe('cacheHeaders(): grace (staleWhileRevalidate, staleIfError)', () => {
  const T0 = new Date('2030-01-01T00:00:00Z').getTime();
  const graceCache = createCache(new MemoryBackend(), { prefix: 'grace', onStale: () => {} });
  const graceRouter = t.router({
    revalidating: t.procedure
      .input(id)
      .use(memorize({ cache: graceCache, expire: 10, staleWhileRevalidate: 30 }))
      .query(({ input }) => input.id),
    both: t.procedure
      .input(id)
      .use(memorize({ cache: graceCache, expire: 10, staleWhileRevalidate: 30, staleIfError: 100 }))
      .query(({ input }) => input.id),
    mineToo: t.procedure
      .input(id)
      .use(memorize({ cache: graceCache, expire: 10, staleIfError: 100, scope: (ctx: Ctx) => ctx.user }))
      .query(({ input }) => input.id),
    plainTtl: t.procedure
      .input(id)
      .use(memorize({ cache: graceCache, expire: 10 }))
      .query(({ input }) => input.id),
  });
  let graceServer: Served;
  beforeAll(async () => {
    graceServer = await serve(graceRouter, cacheHeaders());
  });
  afterAll(() => graceServer.close());
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('advertises stale-while-revalidate / stale-if-error on a public response, bounded by the server windows', async () => {
    const input = fresh();
    const first = await graceServer.batch([['both', input]]);
    expect(first.headers.get('cache-control')).toBe(
      'public, max-age=10, stale-while-revalidate=30, stale-if-error=100',
    );
    // Every call must allow a directive for the response to carry it.
    const mixed = await graceServer.batch([
      ['both', fresh()],
      ['revalidating', fresh()],
    ]);
    expect(mixed.headers.get('cache-control')).toBe('public, max-age=10, stale-while-revalidate=30');
    const without = await graceServer.batch([
      ['both', fresh()],
      ['plainTtl', fresh()],
    ]);
    expect(without.headers.get('cache-control')).toBe('public, max-age=10');

    // Served stale: says so, no TTL left, and only what is left of each window.
    vi.setSystemTime(T0 + 12_000);
    const stale = await graceServer.batch([['both', input]]);
    expect(await stale.json()).toEqual([{ result: { data: input.id } }]);
    expect(entries(stale, 'trpc-memory-cache')).toEqual(['stale']);
    expect(entries(stale, 'trpc-memory-ttl')).toEqual(['0.000']);
    expect(stale.headers.get('cache-control')).toBe(
      'public, max-age=0, stale-while-revalidate=28, stale-if-error=98',
    );
  });

  it('never advertises the grace directives on a private response', async () => {
    const response = await graceServer.batch([['mineToo', fresh()]], { 'x-user': 'ann' });
    expect(response.headers.get('cache-control')).toBe('private, max-age=10');
  });
});
