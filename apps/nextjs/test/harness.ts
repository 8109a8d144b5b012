/**
 * Helpers of the example app's browser test: build the app once (`next build` into a
 * private folder), run it with `next start` on a free port like `npm run start -w
 * apps/nextjs` does, and read from the page what its QueryClient decided.
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { type ServerProcess, startServerProcess } from '../../../test/e2e/harness.js';

export const APP = fileURLToPath(new URL('..', import.meta.url));
export const ROOT = path.join(APP, '..', '..');
const NEXT = path.join(ROOT, 'node_modules', 'next', 'dist', 'bin', 'next');
const TURBO = path.join(ROOT, 'node_modules', '.bin', 'turbo');

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`)),
    );
  });
}

/** The environment of `next build` / `next start`: production, no telemetry, the test's own build folder. */
function nextEnv(distDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // Vitest sets NODE_ENV=test, which Next.js refuses for a production build.
  return {
    ...process.env,
    NODE_ENV: 'production',
    NEXT_TELEMETRY_DISABLED: '1',
    EXAMPLE_DIST_DIR: distDir,
    ...extra,
  };
}

/**
 * Builds the packages the app uses (turbo: cached when unchanged) and then the app
 * itself into `distDir` (relative to the app). Returns the build's output.
 */
export async function buildApp(distDir: string): Promise<string> {
  await run(
    TURBO,
    ['run', 'build', '--filter=@trpc-memory/example-nextjs^...', '--output-logs=errors-only'],
    ROOT,
    {
      ...process.env,
      NODE_ENV: 'production',
    },
  );
  return run(process.execPath, [NEXT, 'build'], APP, nextEnv(distDir));
}

export async function removeBuild(distDir: string): Promise<void> {
  await rm(path.join(APP, distDir), { recursive: true, force: true });
}

/** Starts the built app on a free port with `env` (TTLs, Redis…). */
export function startApp(distDir: string, env: Record<string, string>): Promise<ServerProcess> {
  return startServerProcess(
    'next start',
    process.execPath,
    [NEXT, 'start', '--port', '0', '--hostname', '127.0.0.1'],
    {
      cwd: APP,
      env: nextEnv(distDir, env),
      listening: /Local:\s+(http:\/\/\S+)/,
      timeoutMs: 60_000,
    },
  );
}

/** What `/api/debug?entry=…` says about a procedure's server cache entry (server clock). */
export interface ServerEntry {
  source: 'hit' | 'miss' | null;
  expiresAt: number | null;
  runs: Record<string, number>;
}

export async function serverEntry(
  url: string,
  entry: string,
  options: { cookie?: string; id?: string } = {},
): Promise<ServerEntry> {
  const { cookie, id } = options;
  const target = new URL('/api/debug', url);
  target.searchParams.set('entry', entry);
  if (id !== undefined) target.searchParams.set('id', id);
  const response = await fetch(target, cookie === undefined ? {} : { headers: { cookie } });
  if (!response.ok) throw new Error(`debug ${entry}: ${response.status} ${await response.text()}`);
  return (await response.json()) as ServerEntry;
}

/** Empties the app's server cache (its debug route calls `clearCache()`). */
export async function clearServerCache(url: string): Promise<void> {
  const response = await fetch(new URL('/api/debug', url), { method: 'POST' });
  if (!response.ok) throw new Error(`clearing the cache: ${response.status}`);
}

export async function resolverRuns(url: string): Promise<Record<string, number>> {
  const response = await fetch(new URL('/api/debug', url));
  return ((await response.json()) as { runs: Record<string, number> }).runs;
}

/** What the page's QueryClient says about one query, read in the page. */
export interface ClientFreshness {
  /** Epoch ms at which React Query counts the data stale: `dataUpdatedAt + staleTime(query)`. */
  staleAt: number;
  /** The page's clock when read. */
  now: number;
  /** `query.isStale()` when read. */
  isStale: boolean;
  /** When the page's subscriber first saw `query.isStale()` turn true (undefined: not yet). */
  turnedStaleAt: number | undefined;
}

/**
 * Installed before the page's scripts: once the app exposes its QueryClient (as
 * TanStack Query's devtools expect, `window.__TANSTACK_QUERY_CLIENT__`), records when
 * each query's observers first report it stale.
 */
export const RECORD_STALE_FLIPS = `
  window.__turnedStale = {};
  const waitForClient = setInterval(() => {
    const client = window.__TANSTACK_QUERY_CLIENT__;
    if (!client) return;
    clearInterval(waitForClient);
    client.getQueryCache().subscribe((event) => {
      const query = event.query;
      if (query.state.data !== undefined && query.isStale() && !(query.queryHash in window.__turnedStale)) {
        window.__turnedStale[query.queryHash] = Date.now();
      }
    });
  }, 1);
`;

/** Reads the freshness of the query at `path` (and optional input) from the page. */
export async function clientFreshness(page: Page, path: string, input?: unknown): Promise<ClientFreshness> {
  return page.evaluate(
    ([segments, input]) => {
      type Q = {
        queryHash: string;
        state: { dataUpdatedAt: number; data: unknown };
        isStale(): boolean;
      };
      const client = (
        window as unknown as {
          __TANSTACK_QUERY_CLIENT__: {
            getQueryCache(): { getAll(): (Q & { queryKey: unknown[] })[] };
            getDefaultOptions(): { queries?: { staleTime?: unknown } };
          };
        }
      ).__TANSTACK_QUERY_CLIENT__;
      const query = client
        .getQueryCache()
        .getAll()
        .find((q) => {
          const [keyPath, meta] = q.queryKey as [string[], { input?: unknown; type: string }];
          return (
            JSON.stringify(keyPath) === JSON.stringify(segments) &&
            meta.type === 'query' &&
            JSON.stringify(meta.input) === JSON.stringify(input ?? undefined)
          );
        });
      if (query === undefined || query.state.data === undefined) throw new Error(`no data for ${segments}`);
      // mirrorServerTtl's staleTime (useSuspenseQuery raises it to 1 s at least; the
      // mirror then marks such data stale on time by invalidating it).
      const staleTime = client.getDefaultOptions().queries?.staleTime;
      const resolved = typeof staleTime === 'function' ? staleTime(query) : staleTime;
      return {
        staleAt: query.state.dataUpdatedAt + (resolved as number),
        now: Date.now(),
        isStale: query.isStale(),
        turnedStaleAt: (window as unknown as { __turnedStale: Record<string, number> }).__turnedStale[
          query.queryHash
        ],
      };
    },
    [path.split('.'), input] as const,
  );
}

/** One tRPC query call the page sent: its path and its input (superjson's `json` part). */
export interface TrpcCall {
  path: string;
  input: unknown;
}

/**
 * The tRPC query calls in a request URL: a batch (`/api/trpc/a,b?batch=1&input=
 * {"0":…,"1":…}`, from `httpBatchLink` and `httpBatchStreamLink`) counts each of its
 * calls; anything else (a mutation's POST, the page itself) none.
 */
export function trpcCalls(url: string): TrpcCall[] {
  const parsed = new URL(url);
  const prefix = '/api/trpc/';
  if (!parsed.pathname.startsWith(prefix)) return [];
  const paths = decodeURIComponent(parsed.pathname.slice(prefix.length)).split(',');
  const raw = parsed.searchParams.get('input');
  const inputs = (raw === null ? {} : JSON.parse(raw)) as Record<string, { json?: unknown } | undefined>;
  if (parsed.searchParams.get('batch') !== '1') {
    return [{ path: paths[0]!, input: (inputs as { json?: unknown }).json }];
  }
  return paths.map((path, index) => ({ path, input: inputs[String(index)]?.json }));
}

/**
 * Records from now on every tRPC query call the page's requests carry (Playwright's
 * request events); `count(path, input?)` says how many named that path and input.
 */
export function recordCalls(page: Page): { count(path: string, input?: unknown): number } {
  const calls: TrpcCall[] = [];
  page.on('request', (request) => {
    if (request.method() === 'GET') calls.push(...trpcCalls(request.url()));
  });
  return {
    count: (path, input) =>
      calls.filter((call) => call.path === path && JSON.stringify(call.input) === JSON.stringify(input))
        .length,
  };
}
