'use client';

import { useSuspenseQuery } from '@tanstack/react-query';
import { useTRPC } from '~/trpc/react';
import { PostCard } from './post-card';

/** A post the page prefetched by id: it carries its entry's tags (`post:<id>`) to the browser. */
export function PostById(props: { id: string }) {
  const trpc = useTRPC();
  const { data, isStale } = useSuspenseQuery(trpc.post.byId.queryOptions({ id: props.id }));
  return (
    <PostCard
      testId={`post-${props.id}`}
      heading={`Post ${props.id} (prefetched by id)`}
      post={data}
      isStale={isStale}
    />
  );
}
