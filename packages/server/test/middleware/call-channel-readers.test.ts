import { initTRPC } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { createCache } from '../../src/cache/cache.js';
import { cacheHeaders } from '../../src/middleware/cache-headers.js';
import { readCallFacts } from '../../src/middleware/call-channel.js';
import { memorize } from '../../src/middleware/memorize.js';

// A file of its own: whether a cacheHeaders() exists is process state of the module.
describe('the per-call channel before and after a cacheHeaders() exists', () => {
  it('records nothing while no cacheHeaders() reads it, and every call once one exists', async () => {
    const cache = createCache(new MemoryBackend(), { prefix: 'readers' });
    const t = initTRPC.create();
    const router = t.router({ post: t.procedure.use(memorize({ cache })).query(() => 'post') });
    const call = async () => {
      const getRawInput = async () => undefined;
      const run = router._def.procedures.post as unknown as (opts: object) => Promise<unknown>;
      await run({ ctx: {}, getRawInput, path: 'post', type: 'query', signal: undefined, batchIndex: 0 });
      return readCallFacts(getRawInput)?.memorized?.source;
    };
    expect(await call()).toBeUndefined();
    cacheHeaders();
    expect(await call()).toBe('hit');
  });
});
