import { expect, it } from 'vitest';
import { runWithout } from './helpers/without-packages.js';

it('@trpc-memory/server/redis works with ioredis alone: node-redis is never imported', async () => {
  const seen = await runWithout('redis,@redis', 'redis-subpath.ts');
  expect(seen.nodeRedisImport).toMatch(/Cannot find (package|module) 'redis'/);
  expect(seen.ioredisImport).toBeUndefined();
  expect(seen.fromUrl).toBe('v');
  expect(seen.ioredis).toBe('v');
});

it('@trpc-memory/server/redis works with node-redis alone: ioredis is asked for only by a URL', async () => {
  const seen = await runWithout('ioredis', 'redis-subpath.ts');
  expect(seen.ioredisImport).toMatch(/Cannot find (package|module) 'ioredis'/);
  expect(seen.nodeRedis).toBe('v');
  expect(seen.urlError).toMatch(/needs the optional peer dependency ioredis: run `npm install ioredis`/);
});
