/**
 * A minimal Next.js 16 app that never installs ioredis — the memory backend, a
 * fetch-adapter tRPC route on the Node runtime and one on the edge runtime,
 * `initCache()` only in `instrumentation.ts` — builds with Turbopack (Next's
 * default) and with webpack from the packed packages, and each build serves
 * memorized queries: the routes find the cache the instrumentation bundle set up.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { packedPackages } from '../packed/pack.js';
import { type Cell, installCell, PEER_TROUBLE, type Project } from './consumer-project.js';

const run = promisify(execFile);

const app: Cell = {
  name: 'nextjs',
  files: 'next-app',
  // As create-next-app makes it; webpack's edge build trips on "type": "module" (a Next.js issue).
  esm: false,
  steps: [
    {
      packages: [
        'next@^16',
        'react@^19',
        'react-dom@^19',
        '@trpc/server',
        '@trpc/client',
        '@tanstack/react-query',
        'server',
        'client',
      ],
    },
  ],
  typecheck: [],
};

const BUILDS = ['turbopack', 'webpack'] as const;
type Bundler = (typeof BUILDS)[number];

let project: Project;
let upstream: Server;
let upstreamUrl: string;
const built = new Set<Bundler>();

const nextEnv = (bundler: Bundler) => ({
  ...process.env,
  NODE_OPTIONS: '',
  NEXT_TELEMETRY_DISABLED: '1',
  NEXT_DIST_DIR: `.next-${bundler}`,
});

beforeAll(async () => {
  project = await installCell(app, await packedPackages());
  upstream = createServer((req, res) => {
    const id = decodeURIComponent(req.url?.split('/').at(-1) ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id, title: `Post ${id}` }));
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
}, 600_000);

afterAll(async () => {
  upstream?.close();
});

/** A port nothing listens on right now (`next start` takes a number, not 0). */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}

async function startNext(bundler: Bundler): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    join(project.dir, 'node_modules', '.bin', 'next'),
    ['start', '-p', String(port), '-H', '127.0.0.1'],
    { cwd: project.dir, env: { ...nextEnv(bundler), UPSTREAM_URL: upstreamUrl }, stdio: 'pipe' },
  );
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  await vi.waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`next start exited: ${output}`);
      expect(output).toMatch(/Ready in/);
    },
    { timeout: 60_000, interval: 100 },
  );
  return { url: `http://127.0.0.1:${port}`, child };
}

describe('a Next.js 16 app without ioredis', () => {
  it('installs without ioredis and without a peer warning', async () => {
    expect(project.installLog.split('\n').filter((line) => PEER_TROUBLE.test(line))).toEqual([]);
    expect(project.versions.ioredis).toBeUndefined();
    await expect(run('node', ['-e', "import('ioredis')"], { cwd: project.dir })).rejects.toThrow(
      /Cannot find package 'ioredis'/,
    );
    expect(Number(project.versions.next?.split('.')[0])).toBe(16);
  });

  it.each(BUILDS)(
    'builds with %s',
    async (bundler) => {
      const args = bundler === 'webpack' ? ['build', '--webpack'] : ['build'];
      const { stdout, stderr } = await run(join(project.dir, 'node_modules', '.bin', 'next'), args, {
        cwd: project.dir,
        env: nextEnv(bundler),
        maxBuffer: 32 * 1024 * 1024,
        timeout: 400_000,
      }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(
          `next ${args.join(' ')} failed:\n${error.stdout ?? ''}\n${error.stderr ?? error.message}`,
        );
      });
      const output = `${stdout}\n${stderr}`;
      expect(output).toMatch(
        bundler === 'webpack' ? /Compiled successfully/ : /Turbopack[\s\S]*Compiled successfully/,
      );
      expect(output).not.toMatch(/Can't resolve|Module not found|Critical dependency/);
      expect(output).toMatch(/\/api\/edge\/\[trpc\]/);
      built.add(bundler);
    },
    420_000,
  );

  it.each(BUILDS)(
    'serves memorized queries from the %s build on the Node and edge runtimes, with initCache() in instrumentation.ts only',
    async (bundler) => {
      expect(built.has(bundler)).toBe(true);
      const { url, child } = await startNext(bundler);
      try {
        for (const route of ['trpc', 'edge']) {
          const call = () => fetch(`${url}/api/${route}/post.byId?input=${encodeURIComponent('{"id":"7"}')}`);
          const first = await call();
          expect(first.status, route).toBe(200);
          expect(first.headers.get('trpc-memory-cache'), route).toBe('miss');
          const data = { result: { data: { id: '7', title: 'Post 7', runs: 1 } } };
          expect(await first.json()).toEqual(data);
          const second = await call();
          expect(second.headers.get('trpc-memory-cache'), route).toBe('hit');
          expect(await second.json()).toEqual(data);
        }
      } finally {
        child.kill();
        if (child.exitCode === null) await once(child, 'exit');
      }
    },
    120_000,
  );
});
