/**
 * `@trpc-memory/server/test-suite` as a user runs it: the packed package installed
 * in a project of its own, a custom backend, and Vitest started in a separate
 * process with none of the workspace's source conditions. A correct backend
 * passes every test; one with two classic defects fails exactly the two tests
 * that catch them. The project's files are also type-checked against the
 * published `.d.mts` (libraries included), so Vitest's functions fit the
 * suite's parameter types as they are.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheRoot, packedPackages, repoRoot, unpack } from './pack.js';

const run = promisify(execFile);

interface AssertionResult {
  ancestorTitles: string[];
  title: string;
  status: string;
  failureMessages: string[];
}
interface JsonReport {
  success: boolean;
  testResults: { assertionResults: AssertionResult[]; status: string; message: string }[];
}

// Under the workspace's node_modules, so the project finds vitest and typescript
// there, as its own devDependencies.
const project = join(cacheRoot, 'test-suite', randomUUID());
let report: JsonReport;
let typecheck: { code: number; output: string };

/** The environment of a fresh shell: nothing of the Vitest process running this file. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  for (const name of Object.keys(env)) if (name.startsWith('VITEST') || name === 'TEST') delete env[name];
  return env;
}

async function exitOf(command: Promise<{ stdout: string; stderr: string }>) {
  try {
    const { stdout, stderr } = await command;
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

beforeAll(async () => {
  const { server } = await packedPackages();
  await unpack(server, join(project, 'node_modules', '@trpc-memory', 'server'));
  await cp(fileURLToPath(new URL('./fixtures/custom-backend/', import.meta.url)), project, {
    recursive: true,
  });
  await writeFile(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const options = { cwd: project, env: cleanEnv(), timeout: 120_000, maxBuffer: 16 * 1024 * 1024 };
  const vitest = join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const [tests, types] = await Promise.all([
    exitOf(run(process.execPath, [vitest, 'run', '--reporter=json', '--outputFile=report.json'], options)),
    exitOf(run(process.execPath, [tsc, '-p', 'tsconfig.json'], options)),
  ]);
  typecheck = types;
  report = JSON.parse(await readFile(join(project, 'report.json'), 'utf8').catch(() => 'null')) as JsonReport;
  if (report === null) throw new Error(`vitest wrote no report (exit ${tests.code}):\n${tests.output}`);
}, 300_000);

afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});

/** Each test of one suite, as `title: status`. */
function outcomes(suite: string): Record<string, string> {
  const results = report.testResults.flatMap((file) => file.assertionResults);
  return Object.fromEntries(
    results
      .filter((result) => result.ancestorTitles[0] === `${suite}: backend contract`)
      .map((result) => [[...result.ancestorTitles.slice(1), result.title].join(' > '), result.status]),
  );
}

describe('@trpc-memory/server/test-suite from the packed package', () => {
  it('passes a correct custom backend on every test, and disposes of it after closing it', () => {
    const map = outcomes('MapBackend');
    expect(Object.keys(map).length).toBe(9);
    expect(Object.values(map).every((status) => status === 'passed')).toBe(true);
    // The file's own afterAll checked dispose() ran once; a failed hook fails the file.
    expect(report.testResults.map((file) => file.message)).toEqual(['']);
  });

  it('fails a backend that drops the fraction of a ttl and reads its prefix as a glob, on exactly those tests', () => {
    const map = outcomes('MapBackend');
    const sloppy = outcomes('SloppyBackend');
    expect(Object.keys(sloppy)).toEqual(Object.keys(map));
    const failed = Object.keys(sloppy).filter((title) => sloppy[title] !== 'passed');
    expect(failed).toEqual([
      expect.stringMatching(/^expires an entry after its ttl in seconds/),
      'deletes by literal prefix: glob characters match themselves, siblings survive',
    ]);
    expect(report.success).toBe(false);
  });

  it("type-checks a user's test file against the published types, libraries included", () => {
    expect(typecheck).toEqual({ code: 0, output: '' });
  });
});
