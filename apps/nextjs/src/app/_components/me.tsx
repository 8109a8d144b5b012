'use client';

import { useSuspenseQuery } from '@tanstack/react-query';
import { useTRPC } from '~/trpc/react';

export function Me() {
  const trpc = useTRPC();
  const { data } = useSuspenseQuery(trpc.user.me.queryOptions());
  return (
    <section data-testid="me">
      <h2>Your own data (cached per user)</h2>
      {data === null ? (
        <p data-testid="me-name">Not signed in: set a `user` cookie.</p>
      ) : (
        <>
          <p data-testid="me-name">{data.name}</p>
          <p data-testid="me-secret">{data.secret}</p>
        </>
      )}
    </section>
  );
}
