/**
 * Helpers of the demo's browser tests: build the page once, run the demo as a
 * child process exactly like `npm run demo` does (but on port 0, with short
 * latencies and TTLs), drive it in headless Chromium, and run private Redis
 * servers that a test may stop and start.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type RedisServer, startRedisServer } from '../../packages/server/test/helpers/redis-server.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const BIN = path.join(ROOT, 'node_modules', '.bin');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Settings that make the demo answer in milliseconds instead of the interactive defaults. */
export const FAST: Record<string, string> = {
  DEMO_UPSTREAM_LATENCY: '0.05',
  DEMO_UPSTREAM_FAILURE_RATE: '0',
  DEMO_LIST_EXPIRE: '30',
  DEMO_ITEM_EXPIRE: '30',
  DEMO_RETRY_ATTEMPTS: '3',
  DEMO_RETRY_WAIT_MIN: '0.05',
  DEMO_RETRY_WAIT_MAX: '0.1',
  DEMO_UPSTREAM_TIMEOUT: '2',
};

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`)),
    );
  });
}

/** Builds the page into a fresh temporary folder (each test file its own: files run in parallel). */
export async function buildPage(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trpc-memory-demo-page-'));
  await run(
    path.join(BIN, 'vite'),
    ['build', '--config', 'apps/demo/vite.config.ts', '--outDir', dir, '--logLevel', 'warn'],
    // Vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
    { ...process.env, NODE_ENV: 'production' },
  );
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A server started as a child process. */
export interface ServerProcess {
  /** The server's URL as it printed it, on 127.0.0.1 (`http://127.0.0.1:<port>`). */
  url: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A demo started as a child process. */
export type DemoProcess = ServerProcess;

/**
 * Spawns a server and resolves once it printed the URL it listens on: the first
 * capture group of `listening` (within `timeoutMs`), or rejects with its output when
 * it exits or times out first.
 */
export async function startServerProcess(
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; listening: RegExp; timeoutMs?: number },
): Promise<ServerProcess> {
  const { cwd, env, listening, timeoutMs = 30_000 } = options;
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = once(child, 'exit');

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start in ${timeoutMs / 1000} s:\n${output}`)),
      timeoutMs,
    );
    const check = () => {
      const match = listening.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!.replace('//localhost:', '//127.0.0.1:'));
      }
    };
    child.stdout?.on('data', check);
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening:\n${output}`));
    });
  });

  return {
    url,
    child,
    output: () => output,
    async stop(signal = 'SIGINT') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** Starts `apps/demo/src/main.ts` like `npm run demo`, with `env` on top of {@link FAST}. */
export function startDemo(staticDir: string, env: Record<string, string> = {}): Promise<DemoProcess> {
  return startServerProcess(
    'the demo',
    // One process, tsx as a loader: the tsx CLI would stand between the test and the demo,
    // relaying a signal and killing the demo if it did not confirm within 30 ms (it exits
    // 130 then, as a loaded machine showed), so Ctrl-C would test tsx instead of the demo.
    process.execPath,
    ['--import', 'tsx', '--conditions=@trpc-memory/source', 'apps/demo/src/main.ts'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...FAST,
        PORT: '0',
        DEMO_SKIP_BUILD: '1',
        DEMO_STATIC_DIR: staticDir,
        REDIS_URL: '',
        ...env,
      },
      listening: /running at (http:\/\/\S+)/,
    },
  );
}

/** Calls a `demo.*` or `catalog.*` procedure over plain HTTP (no transformer). */
export async function callProcedure<T>(url: string, procedure: string, input?: unknown): Promise<T> {
  const mutation = !procedure.endsWith('.state') && !/\.(list|byId)$/.test(procedure);
  const target = new URL(`trpc/${procedure}`, url);
  if (!mutation && input !== undefined) target.searchParams.set('input', JSON.stringify(input));
  const response = await fetch(target, {
    method: mutation ? 'POST' : 'GET',
    ...(mutation
      ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(input ?? {}) }
      : {}),
  });
  const body = (await response.json()) as { result?: { data: T }; error?: unknown };
  if (!response.ok || body.result === undefined) {
    throw new Error(`${procedure} failed (${response.status}): ${JSON.stringify(body.error)}`);
  }
  return body.result.data;
}

/** The demo's counters and settings (`demo.state`). */
export interface DemoState {
  backend: 'memory' | 'redis';
  upstream: {
    requests: number;
    failures: number;
    failNext: number;
    down: boolean;
    byRoute: Record<string, number>;
  };
  procedures: Record<
    string,
    {
      calls: number;
      fromCache: number;
      fromUpstream: number;
      errors: number;
      upstreamRequests: number;
      retries: number;
    }
  >;
  cacheErrors: { count: number; last?: string };
  events: { path: string; source: string; attempts: number; retryReasons: string[] }[];
}

export const demoState = (url: string) => callProcedure<DemoState>(url, 'demo.state');

/** Starts headless Chromium with the flags this machine needs (no network beyond loopback). */
export function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A query card of the page, by procedure path. */
export const card = (page: Page, path: 'catalog.list' | 'catalog.byId') =>
  page.locator(`[data-testid="card-${path}"]`);

/** Waits until the card has data again (not loading, not refetching) and returns where it came from. */
export async function settledSource(page: Page, path: 'catalog.list' | 'catalog.byId'): Promise<string> {
  const locator = card(page, path);
  await locator.locator('[data-testid="data"]').waitFor();
  await page.waitForFunction((selector) => {
    const element = document.querySelector(selector);
    return element?.getAttribute('data-status') !== 'pending' && element?.querySelector('.spinner') === null;
  }, `[data-testid="card-${path}"]`);
  return (await locator.getAttribute('data-source')) ?? '';
}

/** A free TCP port on 127.0.0.1 in `[from, to]`. */
export async function freePort(from: number, to: number): Promise<number> {
  for (let port = from; port <= to; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}-${to}`);
}

/**
 * A private redis-server on `port` (never the shared one) that a test stops and
 * starts again on the same port, built on the server package's test helper.
 */
export class PrivateRedis {
  #server: RedisServer | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.#server = await startRedisServer(this.port);
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    await server?.stop();
  }
}
