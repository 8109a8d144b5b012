/**
 * The client's side of trpc-memory: how many requests a component that mounts the
 * same query 1,000 times over 10 s makes against a procedure memorized with
 * `expire: 5`, with `mirrorServerTtl` and with React Query's defaults
 * (`staleTime: 0`, a refetch on every mount). Real time, real HTTP on loopback;
 * both clients run side by side in the same 10 s against their own server.
 * `npm run bench -- client`
 */
import type { AddressInfo } from 'node:net';
import { environmentManager, QueryClient, QueryObserver } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import {
  cacheHintsHeaders,
  cacheHintsLink,
  createCacheHints,
  createMemoHooks,
  mirrorServerTtl,
} from '@trpc-memory/client';
import { cacheHeaders, createCache, MemoryBackend, memorize } from '@trpc-memory/server';
import { z } from 'zod';
import { report } from './lib.js';

const EXPIRE = 5;
const MOUNTS = 1_000;
const DURATION_MS = 10_000;

function makeRouter() {
  const t = initTRPC.create();
  const cache = createCache(new MemoryBackend(), { prefix: 'client-bench' });
  return t.router({
    post: t.router({
      byId: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: EXPIRE, cache }))
        .query(({ input }) => ({ id: input.id, title: 'Caching tRPC query results' })),
    }),
  });
}
type AppRouter = ReturnType<typeof makeRouter>;

async function startServer() {
  let requests = 0;
  const server = createHTTPServer({ router: makeRouter(), responseMeta: cacheHeaders() });
  server.on('request', () => {
    requests++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Mounts the query `MOUNTS` times, evenly over `DURATION_MS`; each mount lasts until the next. */
async function mountRepeatedly(mirror: boolean): Promise<{ requests: number; mounts: number }> {
  const server = await startServer();
  const queryClient = new QueryClient();
  const hints = createCacheHints();
  if (mirror) mirrorServerTtl(queryClient, { hints });
  const client = createTRPCClient<AppRouter>({
    links: [cacheHintsLink({ hints }), httpBatchLink({ url: server.url, headers: cacheHintsHeaders() })],
  });
  const options = createMemoHooks<AppRouter>({ client }).post.byId.queryOptions({ id: 'p1' });

  const started = Date.now();
  let mounts = 0;
  let unmount = () => {};
  while (mounts < MOUNTS) {
    const due = started + (mounts * DURATION_MS) / MOUNTS;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    unmount();
    unmount = new QueryObserver(queryClient, options).subscribe(() => {});
    mounts++;
  }
  unmount();
  // Let a last request in flight land before counting.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const requests = server.requests();
  queryClient.clear();
  await server.close();
  return { requests, mounts };
}

export default async function clientBench(): Promise<void> {
  // Behave like a browser: React Query skips its client-side timers where it sees no `window`.
  environmentManager.setIsServer(() => false);
  const [mirrored, defaults] = await Promise.all([mountRepeatedly(true), mountRepeatedly(false)]);
  console.log(
    `${MOUNTS} mounts of one query over ${DURATION_MS / 1000} s, procedure memorized with expire: ${EXPIRE} s`,
  );
  report('requests with mirrorServerTtl', mirrored.requests, '', { op: '<=', value: 3 });
  report('requests with React Query defaults (staleTime 0)', defaults.requests, '', undefined);
  report(
    'requests saved by mirroring (defaults / mirrored)',
    defaults.requests / mirrored.requests,
    'x',
    undefined,
  );
}
