/**
 * Starts the whole demo: the cache (memory, or Redis when a URL is given), the
 * flaky upstream service, the `ResilientClient` that talks to it, and one HTTP
 * server that answers tRPC on `/trpc` and serves the built page everywhere else.
 */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { type CacheErrorEvent, cacheHeaders, initCache, ResilientClient } from '@trpc-memory/server';
import { Activity } from './activity.js';
import type { DemoConfig } from './config.js';
import { createAppRouter } from './router.js';
import { startUpstream, type Upstream } from './upstream.js';

/** A running demo. */
export interface Demo {
  /** The page's URL, e.g. `http://localhost:3000/`. */
  url: string;
  /** The tRPC endpoint, e.g. `http://localhost:3000/trpc`. */
  trpcUrl: string;
  upstream: Upstream;
  activity: Activity;
  /** Stops the HTTP server, the upstream, the client and the cache connection. */
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Serves the built page; unknown paths get `index.html` (a single-page app). */
function staticFiles(root: string): http.RequestListener {
  const base = path.resolve(root);
  return (req, res) => {
    void (async () => {
      const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://demo').pathname);
      let file = path.resolve(base, `.${pathname}`);
      if (!file.startsWith(base + path.sep) && file !== base) {
        res.writeHead(403).end();
        return;
      }
      let info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) {
        file = path.join(base, 'index.html');
        info = await stat(file).catch(() => undefined);
      }
      if (!info?.isFile()) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`The page is not built: run "npm run build -w apps/demo" (looked in ${base}).\n`);
        return;
      }
      const hashed = file.includes(`${path.sep}assets${path.sep}`);
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'content-length': info.size,
        // Vite puts a content hash in asset names: those never change.
        'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
}

/** A short reason for a failed attempt: `HTTP 503`, `ECONNREFUSED`, `TimeoutError`… */
function describeFailure(error: unknown): string {
  const status = (error as { response?: { status?: unknown } } | undefined)?.response?.status;
  if (typeof status === 'number') return `HTTP ${status}`;
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'error';
}

/**
 * Starts the demo with `config` and resolves once it listens.
 *
 * @example
 * ```ts
 * const demo = await startDemo(readConfig());
 * console.log(demo.url);
 * await demo.close();
 * ```
 */
export async function startDemo(config: DemoConfig): Promise<Demo> {
  const activity = new Activity();
  let lastWarning = 0;
  const onError = (event: CacheErrorEvent) => {
    const message = event.error instanceof Error ? event.error.message : String(event.error);
    activity.cacheError(`${event.operation}: ${message}`);
    if (Date.now() - lastWarning > 10_000) {
      lastWarning = Date.now();
      console.warn(`[demo] cache ${event.operation} failed, served as a miss: ${message}`);
    }
  };
  const cache = config.redisUrl
    ? await initCache({ backend: 'redis', url: config.redisUrl, prefix: config.cachePrefix, onError })
    : await initCache({ backend: 'memory', prefix: config.cachePrefix, onError });

  const upstream = await startUpstream({
    port: config.upstreamPort,
    latency: config.upstreamLatency,
    failureRate: config.upstreamFailureRate,
  });
  const client = new ResilientClient({
    baseUrl: upstream.url,
    timeout: config.upstreamTimeout,
    retryAttempts: config.retryAttempts,
    retryWaitMin: config.retryWaitMin,
    retryWaitMax: config.retryWaitMax,
    // Counts each retry against the call that made it, for the page's counters.
    beforeRetry: ({ error }) => activity.countRetry(describeFailure(error)),
  });
  await client.start();

  const router = createAppRouter({
    client,
    upstream,
    activity,
    expire: { list: config.listExpire, item: config.itemExpire },
    backend: config.redisUrl ? 'redis' : 'memory',
  });
  const trpc = createHTTPHandler({
    router,
    basePath: '/trpc/',
    // Per call: the remaining TTL of its cached result and whether it was a cache hit.
    responseMeta: cacheHeaders(),
  });
  const page = staticFiles(config.staticDir);

  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    if (req.url === '/trpc' || req.url?.startsWith('/trpc/') || req.url?.startsWith('/trpc?')) trpc(req, res);
    else page(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const host = config.host === '127.0.0.1' || config.host === '::1' ? 'localhost' : config.host;
  const url = `http://${host}:${port}/`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // The page keeps polling over keep-alive connections: end them so close() returns now.
      for (const socket of sockets) socket.destroy();
      await closed;
      await client.close();
      await upstream.close();
      await cache.backend.close?.();
    })();
    return closing;
  };

  return { url, trpcUrl: `${url}trpc`, upstream, activity, close };
}
