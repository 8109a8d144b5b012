/**
 * Runs a fixture script (test/fixtures) in a child Node process where some
 * packages cannot be resolved, as in a project that never installed those
 * optional peer dependencies (see fixtures/hide-packages.mjs). The fixture
 * prints what it saw as JSON on its last line.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

/** `hidden`: package names, comma-separated (`'ioredis'`, `'redis,@redis'`). */
export async function runWithout(hidden: string, script: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(
    process.execPath,
    [
      '--conditions=@trpc-memory/source',
      '--import',
      'tsx',
      '--import',
      fixture('hide-packages.mjs'),
      fixture(script),
    ],
    {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      timeout: 20_000,
      env: { ...process.env, TRPC_MEMORY_HIDE: hidden },
    },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}
