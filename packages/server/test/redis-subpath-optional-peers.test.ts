import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Runs the subpath fixture in a project where `hidden` packages are not installed. */
async function withHidden(hidden: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(
    process.execPath,
    [
      '--conditions=@trpc-memory/source',
      '--import',
      'tsx',
      '--import',
      fixture('hide-packages.mjs'),
      fixture('redis-subpath.ts'),
    ],
    {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      timeout: 20_000,
      env: { ...process.env, TRPC_MEMORY_HIDE: hidden },
    },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

it('@trpc-memory/server/redis works with ioredis alone: node-redis is never imported', async () => {
  const seen = await withHidden('redis,@redis');
  expect(seen.nodeRedisImport).toMatch(/Cannot find (package|module) 'redis'/);
  expect(seen.ioredisImport).toBeUndefined();
  expect(seen.fromUrl).toBe('v');
  expect(seen.ioredis).toBe('v');
});

it('@trpc-memory/server/redis works with node-redis alone: ioredis is asked for only by a URL', async () => {
  const seen = await withHidden('ioredis');
  expect(seen.ioredisImport).toMatch(/Cannot find (package|module) 'ioredis'/);
  expect(seen.nodeRedis).toBe('v');
  expect(seen.urlError).toMatch(/needs the optional peer dependency ioredis: run `npm install ioredis`/);
});
