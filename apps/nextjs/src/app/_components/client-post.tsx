'use client';

import { useQuery } from '@tanstack/react-query';
import { useSearchParams } from 'next/navigation';
import { useTRPC } from '~/trpc/react';

export function ClientPost() {
  const trpc = useTRPC();
  const id = useSearchParams().get('post') ?? 'home';
  const { data, isStale } = useQuery(trpc.post.byId.queryOptions({ id }));
  return (
    <section data-testid="client" data-version={data?.version}>
      <h2>Fetched in the browser (through the client&apos;s link)</h2>
      <p data-testid="client-title">{data?.title ?? 'Loading…'}</p>
      {data && (
        <small>
          resolver run #{data.run} · {isStale ? 'stale' : 'fresh'}
        </small>
      )}
    </section>
  );
}
