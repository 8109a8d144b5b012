/**
 * The demo's settings, read from the environment so that `npm run demo` needs
 * none and the browser tests can shrink every latency and TTL to fractions of a
 * second. Every duration is in seconds, like the library's API.
 */
import { fileURLToPath } from 'node:url';

export interface DemoConfig {
  /** Port of the demo (page + tRPC). `0` picks a free port. Env `PORT`, default 3000. */
  port: number;
  /** Interface to listen on. Env `HOST`, default `127.0.0.1`. */
  host: string;
  /** Redis URL; when set the cache uses Redis instead of memory. Env `REDIS_URL`. */
  redisUrl: string | undefined;
  /** Cache key prefix. Env `DEMO_CACHE_PREFIX`, default `trpc-memory-demo`. */
  cachePrefix: string;
  /** Port of the upstream service; `0` picks a free one. Env `DEMO_UPSTREAM_PORT`, default 0. */
  upstreamPort: number;
  /** Upstream delay per request in seconds. Env `DEMO_UPSTREAM_LATENCY`, default 0.3. */
  upstreamLatency: number;
  /** Share of upstream GETs answered with 503 (0..1). Env `DEMO_UPSTREAM_FAILURE_RATE`, default 0.2. */
  upstreamFailureRate: number;
  /** `expire` of `catalog.list` in seconds. Env `DEMO_LIST_EXPIRE`, default 20. */
  listExpire: number;
  /** `expire` of `catalog.byId` in seconds. Env `DEMO_ITEM_EXPIRE`, default 8. */
  itemExpire: number;
  /** `ResilientClient` attempts per call. Env `DEMO_RETRY_ATTEMPTS`, default 3. */
  retryAttempts: number;
  /** First retry wait in seconds. Env `DEMO_RETRY_WAIT_MIN`, default 0.2. */
  retryWaitMin: number;
  /** Longest retry wait in seconds. Env `DEMO_RETRY_WAIT_MAX`, default 1. */
  retryWaitMax: number;
  /** Per-attempt upstream timeout in seconds. Env `DEMO_UPSTREAM_TIMEOUT`, default 5. */
  upstreamTimeout: number;
  /** Folder of the built page. Env `DEMO_STATIC_DIR`, default `apps/demo/dist`. */
  staticDir: string;
  /** Whether `main` builds the page before starting. Env `DEMO_SKIP_BUILD=1` turns it off. */
  buildPage: boolean;
}

/** Where `vite build` puts the page by default. */
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../dist', import.meta.url));

type Env = Record<string, string | undefined>;

function number(env: Env, name: string, fallback: number, check: (n: number) => boolean, allowed: string) {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || !check(value)) {
    throw new RangeError(`${name} must be ${allowed}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const positive = (n: number) => n > 0;
const port = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;

/**
 * Reads the demo's settings from `env` (default `process.env`); a malformed value
 * is an error naming the variable, the value and what is allowed.
 */
export function readConfig(env: Env = process.env): DemoConfig {
  const redisUrl = env.REDIS_URL?.trim() || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new RangeError(`REDIS_URL must be a redis:// or rediss:// URL, got ${JSON.stringify(redisUrl)}`);
  }
  return {
    port: number(env, 'PORT', 3000, port, 'a port number from 0 to 65535'),
    host: env.HOST?.trim() || '127.0.0.1',
    redisUrl,
    cachePrefix: env.DEMO_CACHE_PREFIX?.trim() || 'trpc-memory-demo',
    upstreamPort: number(env, 'DEMO_UPSTREAM_PORT', 0, port, 'a port number from 0 to 65535'),
    upstreamLatency: number(
      env,
      'DEMO_UPSTREAM_LATENCY',
      0.3,
      (n) => n >= 0 && n <= 30,
      'seconds from 0 to 30',
    ),
    upstreamFailureRate: number(
      env,
      'DEMO_UPSTREAM_FAILURE_RATE',
      0.2,
      (n) => n >= 0 && n <= 1,
      'a share from 0 to 1',
    ),
    listExpire: number(env, 'DEMO_LIST_EXPIRE', 20, positive, 'a positive number of seconds'),
    itemExpire: number(env, 'DEMO_ITEM_EXPIRE', 8, positive, 'a positive number of seconds'),
    retryAttempts: number(
      env,
      'DEMO_RETRY_ATTEMPTS',
      3,
      (n) => Number.isInteger(n) && n >= 1,
      'a whole number of attempts, at least 1',
    ),
    retryWaitMin: number(env, 'DEMO_RETRY_WAIT_MIN', 0.2, (n) => n >= 0, 'seconds, 0 or more'),
    retryWaitMax: number(env, 'DEMO_RETRY_WAIT_MAX', 1, (n) => n >= 0, 'seconds, 0 or more'),
    upstreamTimeout: number(env, 'DEMO_UPSTREAM_TIMEOUT', 5, positive, 'a positive number of seconds'),
    staticDir: env.DEMO_STATIC_DIR?.trim() || DEFAULT_STATIC_DIR,
    buildPage: env.DEMO_SKIP_BUILD !== '1',
  };
}
