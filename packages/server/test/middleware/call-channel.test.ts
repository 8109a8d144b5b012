/**
 * The per-call channel between memorize/invalidates and what reads their reports:
 * keyed by tRPC's per-call `getRawInput` for HTTP responses (nothing written onto
 * tRPC's objects), an AsyncLocalStorage scope for in-process calls. A middleware that
 * hands later middlewares its own `getRawInput` cuts the HTTP link: that trips a
 * warning outside production; in-process calls keep their report.
 */
import { QueryClient } from '@tanstack/react-query';
import { initTRPC } from '@trpc/server';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { cacheHeaders, createCache, MemoryBackend, memorize, reportServerTtl } from '../../src/index.js';
import { readCallFacts } from '../../src/middleware/call-channel.js';
import { entries, type Served, serve } from './serve.js';

const cache = createCache(new MemoryBackend(), { prefix: 'call-channel' });
const t = initTRPC.context<{ user: string | null }>().create();
const id = z.object({ id: z.string() });

/** A middleware that passes the input on through a getRawInput of its own. */
const rewrapInput = t.middleware(({ getRawInput, next }) => next({ getRawInput: () => getRawInput() }));

const router = t.router({
  plain: t.procedure
    .input(id)
    .use(memorize({ expire: 30, cache }))
    .query(({ input }) => input.id),
  rewrapped: t.procedure
    .use(rewrapInput)
    .input(id)
    .use(memorize({ expire: 30, cache }))
    .query(({ input }) => input.id),
});

let served: Served;
beforeAll(async () => {
  served = await serve(router, cacheHeaders());
});
afterAll(() => served.close());
afterEach(() => vi.restoreAllMocks());

describe('the per-call channel', () => {
  it('writes nothing onto tRPC’s getRawInput function', async () => {
    const getRawInput = async () => ({ id: 'x' });
    await (router._def.procedures.plain as unknown as (opts: object) => Promise<unknown>)({
      ctx: { user: null },
      getRawInput,
      path: 'plain',
      type: 'query',
      signal: undefined,
      batchIndex: 0,
    });
    expect(Object.getOwnPropertySymbols(getRawInput)).toEqual([]);
    expect(Object.getOwnPropertyNames(getRawInput).sort()).toEqual(['length', 'name']);
    expect(readCallFacts(getRawInput)?.memorized).toMatchObject({ source: 'miss', stored: true });
  });

  it('a middleware that replaces getRawInput loses the HTTP report and trips a warning, once per procedure', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const response = await served.batch([
      ['plain', { id: 'a' }],
      ['rewrapped', { id: 'b' }],
    ]);
    expect(response.ok).toBe(true);
    expect(entries(response, 'trpc-memory-cache')).toEqual(['miss', '-']);
    expect(entries(response, 'trpc-memory-ttl')?.[1]).toBe('-');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toContain('"rewrapped" is memorized but its call reported nothing');
    await served.batch([['rewrapped', { id: 'c' }]]);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('an in-process call keeps its report whatever getRawInput the middlewares pass along', async () => {
    const queryClient = reportServerTtl(new QueryClient());
    const trpc = createTRPCOptionsProxy({ router, ctx: { user: null }, queryClient });
    await queryClient.prefetchQuery(trpc.rewrapped.queryOptions({ id: 'in-process' }));
    const query = queryClient
      .getQueryCache()
      .find({ queryKey: trpc.rewrapped.queryKey({ id: 'in-process' }) });
    expect(query?.meta?.['trpc-memory']).toMatchObject({ source: 'miss', expiresIn: expect.any(Number) });
  });
});
