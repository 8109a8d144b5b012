import { QueryClient } from '@tanstack/react-query';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { clearCache, reportServerTtl } from '@trpc-memory/server';
import { appRouter } from '~/server/api/root';
import { createTRPCContext } from '~/server/api/trpc';
import { store } from '~/server/store';

export const dynamic = 'force-dynamic';

/**
 * What the server holds, for the curious and for the browser test: how many times
 * each resolver ran, and with `?entry=post.latest` (or `post.slow`, `user.me`,
 * `post.byId` with `&id=`) when that procedure's cache entry expires, in epoch ms on
 * the server's clock. The entry is read through an in-process call, the way server
 * rendering reads it, so reading it never changes it: `source` says `hit` when it
 * was there (a `miss` means the read just cached a new result). `POST` empties the cache.
 */
export async function POST(): Promise<Response> {
  await clearCache();
  return Response.json({ cleared: true });
}

export async function GET(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const entry = url.searchParams.get('entry');
  if (entry === null) return Response.json({ runs: store.runs });

  const queryClient = reportServerTtl(new QueryClient());
  const trpc = createTRPCOptionsProxy({
    router: appRouter,
    ctx: () => createTRPCContext({ headers: req.headers }),
    queryClient,
  });
  const fetchEntry = async <T extends { queryKey: readonly unknown[] }>(options: T) => {
    await queryClient.fetchQuery(options as Parameters<typeof queryClient.fetchQuery>[0] & T);
    return options.queryKey;
  };
  let queryKey: readonly unknown[];
  if (entry === 'post.latest') queryKey = await fetchEntry(trpc.post.latest.queryOptions());
  else if (entry === 'post.slow') queryKey = await fetchEntry(trpc.post.slow.queryOptions());
  else if (entry === 'user.me') queryKey = await fetchEntry(trpc.user.me.queryOptions());
  else if (entry === 'post.byId') {
    queryKey = await fetchEntry(trpc.post.byId.queryOptions({ id: url.searchParams.get('id') ?? 'home' }));
  } else return Response.json({ error: `unknown entry ${entry}` }, { status: 400 });
  const meta = queryClient.getQueryCache().find({ queryKey })?.meta?.['trpc-memory'] as
    | { source: string | null; expiresIn: number | 'inf' | null; renderedAt: number }
    | undefined;
  const expiresAt =
    meta === undefined || typeof meta.expiresIn !== 'number' ? null : meta.renderedAt + meta.expiresIn;
  return Response.json({ source: meta?.source ?? null, expiresAt, runs: store.runs });
}
