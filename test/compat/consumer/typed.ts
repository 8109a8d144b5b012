// Type-checked (tsc, skipLibCheck off) inside consumer projects of the oldest and
// the latest supported peers: the published .d.ts files must compile against
// each, and types must flow from the router to the client as documented.
import { QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import {
  type CachePolicy,
  cacheHintsHeaders,
  cacheHintsLink,
  createMemoHooks,
  getCacheHint,
  mirrorServerTtl,
} from '@trpc-memory/client';
import {
  CacheManager,
  cacheHeaders,
  cachePolicy,
  initCache,
  invalidates,
  MemoryBackend,
  memorize,
  memorizeFn,
  ResilientClient,
} from '@trpc-memory/server';
import { z } from 'zod';

const Post = z.object({ id: z.string(), title: z.string() });
const upstream = new ResilientClient({ baseUrl: 'http://127.0.0.1:1' });
const t = initTRPC.context<{ userId: string | null }>().create();
export const appRouter = t.router({
  post: t.router({
    byId: t.procedure
      .input(z.object({ id: z.string() }))
      .use(memorize({ expire: 60, scope: (ctx) => ctx.userId }))
      .query(({ input, signal }) =>
        upstream.getJson(`posts/${input.id}`, undefined, { schema: Post, signal }),
      ),
    rename: t.procedure
      .input(z.object({ id: z.string(), title: z.string() }))
      .use(invalidates(['post.byId']))
      .mutation(({ input }) => input),
  }),
});
export type AppRouter = typeof appRouter;

export async function server(request: Request): Promise<Response> {
  await initCache({ expire: 60 });
  CacheManager.init(new MemoryBackend({ maxEntries: 10 }));
  const rates = memorizeFn({ expire: 5, namespace: 'rates' })(async (base: string) => ({ base, eur: 1 }));
  const eur: number = (await rates('usd')).eur;
  void eur;
  return fetchRequestHandler({
    endpoint: '/trpc',
    req: request,
    router: appRouter,
    createContext: () => ({ userId: null }),
    responseMeta: cacheHeaders(),
  });
}

export async function client(): Promise<string> {
  const policy: CachePolicy = cachePolicy(appRouter);
  const queryClient = new QueryClient();
  mirrorServerTtl(queryClient, { policy });
  const trpc = createTRPCClient<AppRouter>({
    links: [cacheHintsLink(), httpBatchLink({ url: '/trpc', headers: cacheHintsHeaders() })],
  });
  const api = createMemoHooks<AppRouter>({ client: trpc });
  const post = await queryClient.fetchQuery(api.post.byId.queryOptions({ id: '1' }));
  // @ts-expect-error the input is typed from the router
  api.post.byId.queryOptions({ id: 1 });
  const hint = getCacheHint(queryClient, api.post.byId.queryKey({ id: '1' }));
  const renamed = await trpc.post.rename.mutate({ id: '1', title: 'x' });
  return `${post.title} ${renamed.title} ${hint?.source ?? ''}`;
}
