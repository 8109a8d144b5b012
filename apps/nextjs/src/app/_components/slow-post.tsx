'use client';

import { useSuspenseQuery } from '@tanstack/react-query';
import { useTRPC } from '~/trpc/react';

export function SlowPost() {
  const trpc = useTRPC();
  const { data, isStale } = useSuspenseQuery(trpc.post.slow.queryOptions());
  return (
    <section data-testid="slow" data-version={data.version}>
      <h2>Slow post (streamed from the server)</h2>
      <p data-testid="slow-title">{data.title}</p>
      <small>
        resolver run #{data.run} · {isStale ? 'stale' : 'fresh'}
      </small>
    </section>
  );
}
