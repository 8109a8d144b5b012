'use client';

import { useSuspenseQuery } from '@tanstack/react-query';
import { useTRPC } from '~/trpc/react';
import { PostCard } from './post-card';

export function LatestPost() {
  const trpc = useTRPC();
  const { data, isStale } = useSuspenseQuery(trpc.post.latest.queryOptions());
  return (
    <PostCard
      testId="latest"
      heading="Latest post (prefetched on the server)"
      post={data}
      isStale={isStale}
    />
  );
}
