'use client';

import { useSuspenseQuery } from '@tanstack/react-query';
import { useTRPC } from '~/trpc/react';
import { PostCard } from './post-card';

export function SlowPost() {
  const trpc = useTRPC();
  const { data, isStale } = useSuspenseQuery(trpc.post.slow.queryOptions());
  return (
    <PostCard testId="slow" heading="Slow post (streamed from the server)" post={data} isStale={isStale} />
  );
}
