import { randomUUID } from 'node:crypto';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RedisBackend } from '../../src/backends/redis.js';
import { type CacheErrorEvent, createCache } from '../../src/cache/cache.js';
import { memorize } from '../../src/middleware/memorize.js';
import { gate, untilJoined, watchReads } from '../helpers/in-flight.js';
import { closedPort, patient } from '../helpers/redis-server.js';
import { arrivals, type Ctx, counter, memorizeSuite, serveRouter } from './memorize-suite.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

memorizeSuite('RedisBackend', () => {
  const backend = new RedisBackend(REDIS_URL, patient);
  return { backend, dispose: () => backend.close() };
});

describe('memorize on Redis', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('stores entries in Redis under prefix:namespace:key with a PX expiry', async () => {
    const backend = new RedisBackend(REDIS_URL, patient);
    const prefix = `memorize-test-${randomUUID().slice(0, 8)}`;
    const cache = createCache(backend, { prefix });
    const t = initTRPC.context<Ctx>().create();
    const router = t.router({
      post: t.router({
        byId: t.procedure
          .input(z.object({ id: z.string() }))
          .use(memorize({ expire: 600, cache }))
          .query(({ input }) => ({ id: input.id })),
      }),
    });
    await t.createCallerFactory(router)({ user: null }).post.byId({ id: '7' });
    const keys = await redis.keys(`${prefix}:*`);
    // The entry, and the fence of its namespace (see fence.ts), which lives at least a day.
    const [entry, fence] = [`${prefix}:post.byId:={"id":"7"}`, `${prefix}:%N:post.byId`];
    expect(keys.sort()).toEqual([fence, entry]);
    const ttl = await redis.pttl(entry);
    // Real Redis time, read after the write: at most the expire, and no machine is 5 minutes slow.
    expect(ttl).toBeGreaterThan(300_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    expect(await redis.pttl(fence)).toBeGreaterThan(86_400_000 - 300_000);
    await cache.clear();
    await backend.close();
  });

  // The command deadline is an hour: answering at all (within the test's timeout) shows the calls
  // did not wait for it. No bound on how fast the machine answers.
  it('answers through the resolver without waiting for the command deadline when Redis is down, and reports it', async () => {
    const port = await closedPort();
    const backend = new RedisBackend(`redis://127.0.0.1:${port}`, { commandTimeout: 3_600 });
    const events: CacheErrorEvent[] = [];
    const cache = createCache(backend, { prefix: 'down', onError: (event) => events.push(event) });
    const t = initTRPC.context<Ctx>().create();
    const load = counter((input: { id: string }) => ({ id: input.id }));
    const router = t.router({
      post: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: 60, cache }))
        .query(({ input }) => load(input)),
    });
    const caller = t.createCallerFactory(router)({ user: null });
    for (let i = 0; i < 2; i++) expect(await caller.post({ id: 'x' })).toEqual({ id: 'x' });
    expect(load.runs).toBe(2);

    const server = await serveRouter(router);
    try {
      const client = createTRPCClient<typeof router>({ links: [httpBatchLink({ url: server.url })] });
      expect(await client.post.query({ id: 'y' })).toEqual({ id: 'y' });
    } finally {
      await server.close();
    }
    expect(events.map((event) => event.operation)).toContain('get');
    await backend.close();
  });

  it('still hands each concurrent call its own copy when Redis is down', async () => {
    const port = await closedPort();
    const backend = watchReads(new RedisBackend(`redis://127.0.0.1:${port}`, patient));
    const cache = createCache(backend, { prefix: 'down', onError: () => {} });
    const t = initTRPC.context<Ctx>().create();
    const upstream = gate();
    const arrived = arrivals();
    const load = counter(() => ({ items: [1, 2] }), upstream);
    const router = t.router({
      list: t.procedure
        .use(arrived)
        .use(memorize({ expire: 60, cache }))
        .query(() => load(1)),
    });
    const caller = t.createCallerFactory(router)({ user: null });
    const calls = Promise.all([caller.list(), caller.list()]);
    await untilJoined(
      backend,
      () => arrived.count,
      2,
      () => load.runs,
    );
    upstream.open();
    const [a, b] = await calls;
    expect(load.runs).toBe(1);
    expect(a).not.toBe(b);
    a.items.push(3);
    expect(b).toEqual({ items: [1, 2] });
    await backend.close();
  });
});
