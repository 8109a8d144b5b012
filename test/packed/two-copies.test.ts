/**
 * Several copies of the published @trpc-memory/server loaded in one process —
 * what Next.js does when it bundles `instrumentation.ts` apart from the routes,
 * and what a duplicated install does — share the global cache `initCache()`
 * set up in any of them.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheRoot, packedPackages, unpack } from './pack.js';

const run = promisify(execFile);

// Under the workspace's node_modules, so the copies resolve @trpc/server, ky and
// lru-cache from there, like two installs inside one app would.
const copies = join(cacheRoot, 'copies', randomUUID());
let seen: Record<string, unknown>;

beforeAll(async () => {
  const { server } = await packedPackages();
  const entries: string[] = [];
  for (const name of ['first', 'second', 'late']) {
    const root = join(copies, name, 'node_modules', '@trpc-memory', 'server');
    await unpack(server, root);
    entries.push(join(root, 'dist', 'index.mjs'));
  }
  const script = fileURLToPath(new URL('./fixtures/two-copies.mjs', import.meta.url));
  // A plain Node process: none of the test runner's resolution conditions.
  const { stdout } = await run(process.execPath, [script, ...entries], { cwd: copies, timeout: 60_000 });
  seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}, 240_000);

afterAll(async () => {
  await rm(copies, { recursive: true, force: true });
});

describe('copies of the built package in one process', () => {
  it('are separate module instances', () => {
    expect(seen.distinct).toBe(true);
    expect(seen.lateIsAnotherCopy).toBe(true);
    expect(seen.initializedBefore).toBe(false);
  });

  it('share what initCache() set up in one of them: memorize in another caches in it', () => {
    expect(seen.secondSeesInit).toBe(true);
    expect(seen.counts).toEqual([1, 1]);
    expect(seen.resolverRuns).toBe(1);
    expect(seen.readAcross).toEqual({ hello: 'world' });
    expect(seen.afterClearAcross).toBeNull();
    expect(seen.countAfterClear).toBe(2);
  });

  it('see a later initCache() of another copy replace the cache, and a reset forget it', () => {
    expect(seen.replacedForBoth).toBe(true);
    expect(seen.initializedAfterReset).toBe(false);
    expect(seen.notInitialised).toMatch(/The cache is not initialised: call `await initCache\(\)`/);
  });

  it('share it with a copy loaded after initCache() ran, as a route bundle loaded after instrumentation', () => {
    expect(seen.lateSeesInit).toBe(true);
    expect(seen.lateResolverRuns).toBe(1);
  });

  it('memorize and memorizeFn of one copy use a cache made by another one', () => {
    expect(seen.explicitCacheAcross).toEqual({
      calls: [{ n: 1 }, { n: 1 }, { id: 'a' }, { id: 'a' }],
      runs: [1, 1],
      runsAfterClear: [2, 2],
    });
  });

  it("tell each other's errors apart by kind, where instanceof cannot", () => {
    expect(seen.errorAcross).toEqual({
      instanceofOther: false,
      recognised: true,
      code: 'INVALID_OPTION',
      plainError: false,
    });
  });
});
