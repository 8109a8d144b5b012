import { initTRPC } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { cacheHeaders, invalidates, memorize, ResilientClient } from '@trpc-memory/server';

const t = initTRPC.create();
let runs = 0;

/** Built per runtime: the Node routes and the edge route each bundle their own copy. */
function makeRouter() {
  const upstream = new ResilientClient({
    baseUrl: process.env.UPSTREAM_URL ?? 'http://127.0.0.1:9',
    retryAttempts: 1,
  });
  return t.router({
    post: t.router({
      byId: t.procedure
        .input((raw) => ({ id: String(raw?.id) }))
        .use(memorize({ expire: 60 }))
        .query(async ({ input, signal }) => {
          runs++;
          const post = await upstream.getJson(`posts/${input.id}`, undefined, { signal });
          return { ...post, runs };
        }),
      rename: t.procedure
        .input((raw) => ({ id: String(raw?.id) }))
        .use(invalidates(['post.byId']))
        .mutation(({ input }) => ({ renamed: input.id })),
    }),
  });
}

/** A route handler serving the router at `endpoint`, with the cache headers. */
export function trpcHandler(endpoint) {
  const router = makeRouter();
  return (req) =>
    fetchRequestHandler({ endpoint, req, router, createContext: () => ({}), responseMeta: cacheHeaders() });
}
