'use client';

import { useSuspenseQuery } from '@tanstack/react-query';
import { useTRPC } from '~/trpc/react';

export function LatestPost() {
  const trpc = useTRPC();
  const { data, isStale } = useSuspenseQuery(trpc.post.latest.queryOptions());
  return (
    <section data-testid="latest" data-version={data.version} data-stale={String(isStale)}>
      <h2>Latest post (prefetched on the server)</h2>
      <p data-testid="latest-title">{data.title}</p>
      <small>
        resolver run #{data.run} · {isStale ? 'stale' : 'fresh'}
      </small>
    </section>
  );
}
