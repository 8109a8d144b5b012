// Runs inside a fresh consumer project that installed the packed packages and one
// set of peer versions (see ../matrix.test.ts), on whichever Node runs it. It
// exercises the packages as an app would — a tRPC HTTP server with memorize,
// cacheHeaders and invalidates, an upstream through ResilientClient, a React
// Query client mirroring the server's TTLs over real HTTP, a server-rendered
// React tree with the typed hooks, the Redis backend — and prints what it saw as
// one JSON line for the test to check.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import {
  cacheHintsHeaders,
  cacheHintsLink,
  createMemoHooks,
  getCacheHint,
  mirrorServerTtl,
} from '@trpc-memory/client';
import {
  CacheManager,
  cacheHeaders,
  clearCache,
  createCache,
  initCache,
  invalidates,
  memorize,
  ResilientClient,
} from '@trpc-memory/server';
import { RedisBackend } from '@trpc-memory/server/redis';
import { Redis } from 'ioredis';
import { createElement as h, Suspense } from 'react';
import { renderToPipeableStream } from 'react-dom/server';
import { z } from 'zod';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const seen = { node: process.versions.node, versions: {} };
for (const name of ['@trpc/server', '@trpc/client', '@tanstack/react-query', 'react', 'ioredis', 'zod']) {
  seen.versions[name] = JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')).version;
}

const listen = (server) =>
  new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)),
  );

// The upstream the resolvers call through ResilientClient.
let upstreamCalls = 0;
const upstreamServer = createServer((req, res) => {
  upstreamCalls++;
  const id = decodeURIComponent(req.url.split('/').at(-1));
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id, title: `Post ${id}` }));
});
const upstream = new ResilientClient({ baseUrl: await listen(upstreamServer), retryAttempts: 1 });
await upstream.start();

const Post = z.object({ id: z.string(), title: z.string() });
let resolverRuns = 0;
const t = initTRPC.create();
const appRouter = t.router({
  post: t.router({
    byId: t.procedure
      .input(z.object({ id: z.string() }))
      .use(memorize({ expire: 60 }))
      .query(({ input, signal }) => {
        resolverRuns++;
        return upstream.getJson(`posts/${input.id}`, undefined, { schema: Post, signal });
      }),
    rename: t.procedure
      .input(z.object({ id: z.string() }))
      .use(invalidates(['post.byId']))
      .mutation(({ input }) => ({ renamed: input.id })),
  }),
});
const apiServer = createHTTPServer({ router: appRouter, responseMeta: cacheHeaders() });
const url = await listen(apiServer);

const trpc = createTRPCClient({
  links: [cacheHintsLink(), httpBatchLink({ url, headers: cacheHintsHeaders() })],
});
const api = createMemoHooks({ client: trpc });
function browser() {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  mirrorServerTtl(queryClient);
  return queryClient;
}
async function load(queryClient, id) {
  const data = await queryClient.fetchQuery(api.post.byId.queryOptions({ id }));
  const key = api.post.byId.queryKey({ id });
  const query = queryClient.getQueryCache().find({ queryKey: key, exact: true });
  return { data, stale: query.isStale(), source: getCacheHint(queryClient, key)?.source ?? null };
}

// --- memory backend: miss, hit, mirrored staleness, invalidation mirrored to the client
await initCache({ prefix: `compat-${randomUUID()}`, expire: 60 });
const first = browser();
seen.memory = { miss: await load(first, '1'), hit: await load(browser(), '1') };
seen.memory.resolverRuns = resolverRuns;
seen.memory.upstreamCalls = upstreamCalls;
await trpc.post.rename.mutate({ id: '1' });
const query = first.getQueryCache().find({ queryKey: api.post.byId.queryKey({ id: '1' }), exact: true });
seen.memory.invalidatedOnClient = query.state.isInvalidated;
seen.memory.afterMutation = await load(browser(), '1');
seen.memory.resolverRunsAfterMutation = resolverRuns;

// --- React: the typed hooks in a server-rendered tree (useSuspenseQuery fetches over HTTP)
function PostTitle({ id }) {
  const { data } = api.post.byId.useSuspenseQuery({ id });
  return h('h1', null, data.title);
}
const ssrClient = browser();
seen.react = {
  html: await new Promise((resolve, reject) => {
    let html = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        html += chunk;
        done();
      },
      final(done) {
        resolve(html);
        done();
      },
    });
    const tree = h(
      QueryClientProvider,
      { client: ssrClient },
      h(Suspense, { fallback: 'loading' }, h(PostTitle, { id: '2' })),
    );
    const stream = renderToPipeableStream(tree, {
      onAllReady: () => stream.pipe(sink),
      onShellError: reject,
      onError: reject,
    });
  }),
};
seen.react.stale = ssrClient
  .getQueryCache()
  .find({ queryKey: api.post.byId.queryKey({ id: '2' }) })
  .isStale();

// --- @trpc/tanstack-react-query's own query options, where the app uses that package
if (existsSync('node_modules/@trpc/tanstack-react-query')) {
  const { createTRPCOptionsProxy } = await import('@trpc/tanstack-react-query');
  const queryClient = browser();
  const proxy = createTRPCOptionsProxy({ client: trpc, queryClient });
  const options = proxy.post.byId.queryOptions({ id: '4' });
  const data = await queryClient.fetchQuery(options);
  const found = queryClient.getQueryCache().find({ queryKey: options.queryKey, exact: true });
  seen.tanstackReactQuery = {
    data,
    stale: found.isStale(),
    source: getCacheHint(queryClient, options.queryKey)?.source,
  };
}

// --- Redis backend, by URL through initCache (loads the Redis entry by name at run time)
const prefix = `compat-${randomUUID()}`;
await initCache({ backend: 'redis', url: REDIS_URL, prefix, expire: 60 });
const runsBefore = resolverRuns;
seen.redis = { miss: await load(browser(), '3'), hit: await load(browser(), '3') };
seen.redis.resolverRuns = resolverRuns - runsBefore;
const inspector = new Redis(REDIS_URL);
seen.redis.keysInRedis = (await inspector.keys(`${prefix}:*`)).length;
await clearCache();
seen.redis.keysAfterClear = (await inspector.keys(`${prefix}:*`)).length;
await CacheManager.close();

// --- Redis backend over an ioredis client the app made
const clientPrefix = `compat-${randomUUID()}`;
const appRedis = new Redis(REDIS_URL);
const cache = createCache(new RedisBackend(appRedis), { prefix: clientPrefix });
await cache.set('when', new Date(0), { expire: 30 });
const back = await cache.get('when');
seen.redisClient = {
  roundTrip: back instanceof Date && back.getTime() === 0,
  ttlMs: await inspector.pttl(`${clientPrefix}:when`),
};
await cache.clear();
appRedis.disconnect();
inspector.disconnect();

await upstream.close();
apiServer.close();
upstreamServer.close();
console.log(JSON.stringify(seen));
// Lingering keep-alive sockets must not hold the run open.
process.exit(0);
