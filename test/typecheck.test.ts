/**
 * The `*.test-d.ts` files are type tests Vitest runs through tsc. Vitest only
 * reports the errors tsc finds in the project it is given, and counts a file tsc
 * never read as passed: every type-test file of every package must therefore be
 * part of that project, or its assertions silently stop being checked.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './packed/pack.js';

const run = promisify(execFile);

async function typeTestFiles(): Promise<string[]> {
  const found: string[] = [];
  for (const pkg of await readdir(join(repoRoot, 'packages'))) {
    const tests = join(repoRoot, 'packages', pkg, 'test');
    const entries = await readdir(tests, { recursive: true }).catch(() => []);
    for (const entry of entries) if (/\.test-d\.tsx?$/.test(entry)) found.push(join(tests, entry));
  }
  return found.map((file) => relative(repoRoot, file)).sort();
}

describe('type tests', () => {
  it('are all in the project Vitest type-checks', async () => {
    const tsconfig = 'tsconfig.test-d.json';
    expect(await readFile(join(repoRoot, 'vitest.config.ts'), 'utf8')).toContain(`tsconfig: '${tsconfig}'`);
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const { stdout } = await run(process.execPath, [tsc, '-p', tsconfig, '--listFilesOnly'], {
      cwd: repoRoot,
      maxBuffer: 64 * 1024 * 1024,
    });
    const checked = new Set(stdout.split('\n').map((file) => relative(repoRoot, file.trim())));
    const files = await typeTestFiles();
    // The server's and the client's public types at least.
    expect(files.filter((file) => file.startsWith('packages/server/')).length).toBeGreaterThanOrEqual(6);
    expect(files).toContain('packages/client/test/hooks.test-d.ts');
    expect(files.filter((file) => !checked.has(file))).toEqual([]);
  });
});
