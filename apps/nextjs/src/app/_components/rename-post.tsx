'use client';

import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '~/trpc/react';

/** The mutation's `invalidates([...])` drops the server entries; mirrorServerTtl refetches the queries. */
export function RenamePost() {
  const trpc = useTRPC();
  const [title, setTitle] = useState('Renamed');
  const rename = useMutation(trpc.post.rename.mutationOptions());
  return (
    <section>
      <h2>Rename the post</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          rename.mutate({ title });
        }}
      >
        <input data-testid="rename-input" value={title} onChange={(event) => setTitle(event.target.value)} />{' '}
        <button data-testid="rename" type="submit" disabled={rename.isPending}>
          Rename
        </button>{' '}
        {rename.isSuccess && <small data-testid="renamed">renamed to version {rename.data.version}</small>}
      </form>
    </section>
  );
}
