/**
 * The published form of the packages, for the tests that must see what users
 * install rather than the TypeScript sources: both packages built by tsdown and
 * packed by `npm pack`, exactly as `npm publish` would ship them.
 *
 * Packing is cached by a hash of everything that goes into the tarballs, so the
 * test files that need them (compat, edge runtime, two copies) build once per
 * change, and the build runs in a staging folder: the workspace's own `dist/`
 * folders are never rebuilt under a test that may be reading them.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The workspace's own cache folder: shared by the test files and kept between runs. */
export const cacheRoot = join(repoRoot, 'node_modules', '.cache', 'trpc-memory');

const PACKAGES = ['server', 'client'] as const;
export type PackageName = (typeof PACKAGES)[number];

/** Absolute paths of the two tarballs. */
export type Tarballs = Record<PackageName, string>;

/** What each package publishes, and what its build reads. */
const INPUTS = ['package.json', 'README.md', 'tsdown.config.ts', 'tsconfig.json', 'src'];

async function filesUnder(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const nested = await Promise.all(entries.map((entry) => filesUnder(join(path, entry.name))));
  return nested.flat().sort();
}

async function inputsHash(): Promise<string> {
  const hash = createHash('sha256');
  const files = [join(repoRoot, 'tsconfig.json'), join(repoRoot, 'package-lock.json')];
  for (const name of PACKAGES) {
    for (const input of INPUTS) files.push(...(await filesUnder(join(repoRoot, 'packages', name, input))));
  }
  for (const file of files) {
    hash.update(relative(repoRoot, file));
    hash.update('\0');
    hash.update(await readFile(file));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Builds `name` into a staging copy of its package folder and packs that copy. */
async function buildAndPack(name: PackageName, staging: string, into: string): Promise<string> {
  const source = join(repoRoot, 'packages', name);
  const stage = join(staging, name);
  await mkdir(stage, { recursive: true });
  for (const file of ['package.json', 'README.md']) await cp(join(source, file), join(stage, file));
  await cp(join(source, 'src'), join(stage, 'src'), { recursive: true });
  // tsdown runs in the package (its config, tsconfig and node_modules) and writes to the stage.
  await run('npx', ['tsdown', '--out-dir', join(stage, 'dist'), '--log-level', 'error'], {
    cwd: source,
    env: { ...process.env, NODE_OPTIONS: '' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const { stdout } = await run('npm', ['pack', stage, '--pack-destination', into, '--json', '--silent'], {
    cwd: staging,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout) as [{ filename: string }];
  const tarball = join(into, `${name}.tgz`);
  await rename(join(into, packed.filename), tarball);
  return tarball;
}

let packing: Promise<Tarballs> | undefined;

/**
 * The packed tarballs of the current sources, built on first use and reused
 * while the sources are unchanged. Safe to call from several test files at
 * once: one builds, the others wait for its marker.
 */
export function packedPackages(): Promise<Tarballs> {
  packing ??= pack();
  return packing;
}

async function pack(): Promise<Tarballs> {
  const dir = join(cacheRoot, 'packs', await inputsHash());
  const tarballs = Object.fromEntries(PACKAGES.map((name) => [name, join(dir, `${name}.tgz`)])) as Tarballs;
  const done = join(dir, 'done');
  if (await exists(done)) return tarballs;

  await mkdir(join(cacheRoot, 'packs'), { recursive: true });
  const lock = `${dir}.lock`;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Another test file is packing the same sources: wait for its marker
      // (or for a lock left behind by a killed run to go stale).
      if (await exists(done)) return tarballs;
      const since = await stat(lock).then(
        (info) => info.mtimeMs,
        () => Date.now(),
      );
      const age = Date.now() - since;
      if (age > 5 * 60_000) await rm(lock, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    if (await exists(done)) return tarballs;
    await rm(dir, { recursive: true, force: true });
    const staging = join(lock, 'staging');
    await mkdir(dir, { recursive: true });
    for (const name of PACKAGES) await buildAndPack(name, staging, dir);
    await writeFile(done, new Date().toISOString());
    return tarballs;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Unpacks `tarball` (its `package/` folder) into `target`. */
export async function unpack(tarball: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
}
