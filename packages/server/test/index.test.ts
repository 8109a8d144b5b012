import { expect, it } from 'vitest';
import { runWithout } from './helpers/without-packages.js';

it('the main entry imports and caches in a project without ioredis; only the Redis parts ask for it', async () => {
  // Neither Redis client: the main entry must import neither.
  const seen = await runWithout('ioredis,redis,@redis', 'without-ioredis.ts');
  expect(seen.exports).toBeGreaterThan(5);
  expect(seen.roundTrip).toBe(true);
  expect(seen.redisError).toMatch(/needs the optional peer dependency ioredis: run `npm install ioredis`/);
  expect(seen.urlError).toMatch(/needs the optional peer dependency ioredis: run `npm install ioredis`/);
  // The failed redis init left the working memory cache in place.
  expect(seen.stillInitialized).toBe(true);
});
