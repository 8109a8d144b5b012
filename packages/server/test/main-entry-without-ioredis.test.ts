import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

it('the main entry imports and caches in a project without ioredis; only the Redis parts ask for it', async () => {
  const { stdout } = await run(
    process.execPath,
    [
      '--conditions=@trpc-memory/source',
      '--import',
      'tsx',
      '--import',
      fixture('hide-packages.mjs'),
      fixture('without-ioredis.ts'),
    ],
    {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      timeout: 20_000,
      // Neither Redis client: the main entry must import neither.
      env: { ...process.env, TRPC_MEMORY_HIDE: 'ioredis,redis,@redis' },
    },
  );
  const seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  expect(seen.exports).toBeGreaterThan(5);
  expect(seen.roundTrip).toBe(true);
  expect(seen.redisError).toMatch(/needs the optional peer dependency ioredis: run `npm install ioredis`/);
  expect(seen.urlError).toMatch(/needs the optional peer dependency ioredis: run `npm install ioredis`/);
  // The failed redis init left the working memory cache in place.
  expect(seen.stillInitialized).toBe(true);
});
