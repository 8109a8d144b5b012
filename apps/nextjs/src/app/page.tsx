import { Suspense } from 'react';
import { getQueryClient, HydrateClient, trpc } from '~/trpc/server';
import { ClientPost } from './_components/client-post';
import { LatestPost } from './_components/latest-post';
import { Me } from './_components/me';
import { PostById } from './_components/post-by-id';
import { RenamePost } from './_components/rename-post';
import { SlowPost } from './_components/slow-post';

// Rendered per request (it reads the user's cookie): what the page prefetches is as
// fresh as the request. A page prerendered at build time would carry build-time data.
export const dynamic = 'force-dynamic';

export default async function Home() {
  const queryClient = getQueryClient();
  // Awaited: in the page's first bytes. Not awaited: streamed in when it finishes.
  await Promise.all([
    queryClient.prefetchQuery(trpc.post.latest.queryOptions()),
    queryClient.prefetchQuery(trpc.user.me.queryOptions()),
    // Two posts by id: renaming one refetches it alone (its tags came with it).
    queryClient.prefetchQuery(trpc.post.byId.queryOptions({ id: 'a' })),
    queryClient.prefetchQuery(trpc.post.byId.queryOptions({ id: 'b' })),
  ]);
  void queryClient.prefetchQuery(trpc.post.slow.queryOptions());

  return (
    <HydrateClient>
      <main>
        <h1>trpc-memory × Next.js</h1>
        <p>
          <small>
            Server-rendered queries stay fresh in the browser exactly as long as the server&apos;s cache
            entry.
          </small>
        </p>
        <LatestPost />
        <Me />
        <Suspense fallback={<section data-testid="slow-loading">Loading the slow post…</section>}>
          <SlowPost />
        </Suspense>
        <PostById id="a" />
        <PostById id="b" />
        <ClientPost />
        <RenamePost />
      </main>
    </HydrateClient>
  );
}
